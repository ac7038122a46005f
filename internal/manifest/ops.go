package manifest

import (
	"bytes"
	"strings"

	yaml "go.yaml.in/yaml/v3"
)

// kv is a key to insert, with a scalar value or nested keys.
type kv struct {
	key   string
	value string // formatted by the caller's style when children is nil
	kids  []kv
}

// render writes kvs as block lines at indent (spaces), step spaces deeper per level.
func (f *yfile) renderBlock(kvs []kv, indent, step int) string {
	var b strings.Builder
	for _, e := range kvs {
		b.WriteString(strings.Repeat(" ", indent))
		b.WriteString(e.key)
		b.WriteString(":")
		if e.kids != nil {
			b.WriteString(f.eol)
			b.WriteString(f.renderBlock(e.kids, indent+step, step))
			continue
		}
		b.WriteString(" ")
		b.WriteString(e.value)
		b.WriteString(f.eol)
	}
	return b.String()
}

func renderFlow(kvs []kv) string {
	parts := make([]string, len(kvs))
	for i, e := range kvs {
		if e.kids != nil {
			parts[i] = e.key + ": {" + renderFlow(e.kids) + "}"
		} else {
			parts[i] = e.key + ": " + e.value
		}
	}
	return strings.Join(parts, ", ")
}

// insertAfter inserts keys into mapping m after the key node after (nil:
// after the last key), in m's own style: its indentation in block style,
// ", k: v" in flow style.
func (f *yfile) insertAfter(m *yaml.Node, after *yaml.Node, kvs []kv) error {
	if len(kvs) == 0 {
		return nil
	}
	if err := f.shared(m); err != nil {
		return err
	}
	var val *yaml.Node
	if after == nil && len(m.Content) >= 2 {
		after = m.Content[len(m.Content)-2]
	}
	for i := 0; after != nil && i+1 < len(m.Content); i += 2 {
		if m.Content[i] == after {
			val = m.Content[i+1]
		}
	}
	if val == nil && after != nil && len(m.Content) >= 2 {
		// after is a key a merge key brought (<<: *anchor): after the last key.
		val = m.Content[len(m.Content)-1]
	}
	if isFlow(m) {
		if val == nil {
			start := f.valueStart(m)
			f.add(splice{start + 1, start + 1, renderFlow(kvs)})
			return nil
		}
		end, err := f.nodeEnd(val)
		if err != nil {
			return err
		}
		f.add(splice{end, end, ", " + renderFlow(kvs)})
		return nil
	}
	if val == nil {
		return f.errAt(m, "empty mapping")
	}
	end, err := f.nodeEnd(val)
	if err != nil {
		return err
	}
	indent := f.column(f.offset(m.Content[0].Line, m.Content[0].Column))
	pos := f.nextLine(end)
	text := f.renderBlock(kvs, indent, f.indentStep())
	f.insertLines(pos, text)
	return nil
}

// deleteKey removes a key and its value: its whole line(s) in block style,
// the key up to the next key when it shares a line with a sequence dash,
// ", k: v" in flow style.
func (f *yfile) deleteKey(m *yaml.Node, key *yaml.Node) error {
	if err := f.shared(m); err != nil {
		return err
	}
	idx := -1
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i] == key {
			idx = i
		}
	}
	if idx < 0 {
		// A key a merge key brought: it is the anchor's.
		return f.shared(key)
	}
	val := m.Content[idx+1]
	end, err := f.nodeEnd(val)
	if err != nil {
		return err
	}
	kstart := f.offset(key.Line, key.Column)
	if isFlow(m) {
		if idx > 0 {
			pend, err := f.nodeEnd(m.Content[idx-1])
			if err != nil {
				return err
			}
			f.add(splice{pend, end, ""})
			return nil
		}
		if idx+2 < len(m.Content) {
			f.add(splice{kstart, f.offset(m.Content[idx+2].Line, m.Content[idx+2].Column), ""})
			return nil
		}
		f.add(splice{kstart, end, ""})
		return nil
	}
	ls := f.lines[key.Line-1]
	if len(bytes.TrimSpace(f.body[ls:kstart])) == 0 {
		f.add(splice{ls, f.nextLine(end), ""})
		return nil
	}
	// "- newTag: v" with more keys below: the next key moves up to the dash.
	if idx+2 < len(m.Content) {
		f.add(splice{kstart, f.offset(m.Content[idx+2].Line, m.Content[idx+2].Column), ""})
		return nil
	}
	return f.errAt(key, "cannot remove the only key of a sequence item")
}

// indentStep is how many spaces the file indents a nested mapping (default 2).
func (f *yfile) indentStep() int {
	step := 0
	var walk func(n *yaml.Node)
	walk = func(n *yaml.Node) {
		if step != 0 || n == nil {
			return
		}
		if n.Kind == yaml.MappingNode && !isFlow(n) {
			for i := 0; i+1 < len(n.Content); i += 2 {
				v := n.Content[i+1]
				if v.Kind == yaml.MappingNode && !isFlow(v) && len(v.Content) > 0 && v.Line > n.Content[i].Line {
					d := v.Content[0].Column - n.Content[i].Column
					if d > 0 {
						step = d
						return
					}
				}
			}
		}
		for _, c := range n.Content {
			walk(c)
		}
	}
	for _, d := range f.docs {
		walk(d)
	}
	if step == 0 {
		step = 2
	}
	return step
}

// seqStyle is how the file writes a block sequence under a key: the dash's
// indent relative to the key (0 or 2, usually) and the spaces after it.
func (f *yfile) seqStyle() (dashIndent, afterDash int) {
	dashIndent, afterDash = -1, -1
	var walk func(n *yaml.Node)
	walk = func(n *yaml.Node) {
		if n == nil || (dashIndent >= 0 && afterDash >= 0) {
			return
		}
		if n.Kind == yaml.MappingNode && !isFlow(n) {
			for i := 0; i+1 < len(n.Content); i += 2 {
				v := n.Content[i+1]
				if v.Kind == yaml.SequenceNode && !isFlow(v) && len(v.Content) > 0 && v.Line > n.Content[i].Line && dashIndent < 0 {
					dashIndent = max(v.Column-n.Content[i].Column, 0)
				}
			}
		}
		if n.Kind == yaml.SequenceNode && !isFlow(n) && afterDash < 0 {
			for _, it := range n.Content {
				if it.Line == n.Line && it.Kind == yaml.MappingNode && !isFlow(it) && len(it.Content) > 0 {
					afterDash = max(it.Content[0].Column-n.Column-1, 1)
					break
				}
			}
		}
		for _, c := range n.Content {
			walk(c)
		}
	}
	for _, d := range f.docs {
		walk(d)
	}
	if dashIndent < 0 {
		dashIndent = 0
	}
	if afterDash < 0 {
		afterDash = 1
	}
	return dashIndent, afterDash
}

// appendItem adds a mapping item to a sequence in the sequence's style.
func (f *yfile) appendItem(seq *yaml.Node, kvs []kv) error {
	if err := f.shared(seq); err != nil {
		return err
	}
	if isFlow(seq) {
		if len(seq.Content) == 0 {
			// An empty [] takes a second item after a comma.
			sep := ""
			if f.flowFilled[seq] {
				sep = ", "
			}
			if f.flowFilled == nil {
				f.flowFilled = map[*yaml.Node]bool{}
			}
			f.flowFilled[seq] = true
			start := f.valueStart(seq)
			f.add(splice{start + 1, start + 1, sep + "{" + renderFlow(kvs) + "}"})
			return nil
		}
		end, err := f.nodeEnd(seq.Content[len(seq.Content)-1])
		if err != nil {
			return err
		}
		f.add(splice{end, end, ", {" + renderFlow(kvs) + "}"})
		return nil
	}
	last := seq.Content[len(seq.Content)-1]
	end, err := f.nodeEnd(last)
	if err != nil {
		return err
	}
	dash := f.column(f.offset(seq.Line, seq.Column))
	_, after := f.seqStyle()
	for _, it := range seq.Content {
		if it.Kind == yaml.MappingNode && !isFlow(it) && len(it.Content) > 0 {
			after = max(it.Content[0].Column-1-dash-1, 1)
			break
		}
	}
	text := f.seqItem(kvs, dash, after)
	pos := f.nextLine(end)
	f.insertLines(pos, text)
	return nil
}

// seqItem renders "- k: v" lines with the dash at column dash.
func (f *yfile) seqItem(kvs []kv, dash, after int) string {
	block := f.renderBlock(kvs, dash+1+after, f.indentStep())
	return strings.Repeat(" ", dash) + "-" + strings.Repeat(" ", after) + block[dash+1+after:]
}

// styleOf is the quoting style of a mapping's first scalar value (an
// images: entry's name), for the values inserted next to it.
func styleOf(m *yaml.Node) yaml.Style {
	if m == nil || len(m.Content) < 2 || m.Content[1].Kind != yaml.ScalarNode {
		return 0
	}
	return m.Content[1].Style & (yaml.DoubleQuotedStyle | yaml.SingleQuotedStyle)
}

// insertLines inserts whole lines at a line start; at the end of a file
// without a final line end, the new lines go after one and the file still
// ends without one.
func (f *yfile) insertLines(pos int, text string) {
	if pos == len(f.body) && len(f.body) > 0 && f.body[len(f.body)-1] != '\n' {
		text = f.eol + strings.TrimSuffix(text, f.eol)
	}
	f.add(splice{pos, pos, text})
}

package manifest

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"regexp"
	"sort"
	"strings"
	"unicode/utf8"

	yaml "go.yaml.in/yaml/v3"
)

const bom = "\ufeff"

// yfile is one YAML file being edited: the parser locates nodes, and every
// change is a splice of the original bytes at a node's position, so what is
// not spliced stays byte for byte (comments, blank lines, document markers,
// directives, quoting, flow style, indentation, CRLF, a byte-order mark).
type yfile struct {
	name  string
	bom   bool
	body  []byte // the file without its byte-order mark
	lines []int  // byte offset in body of each line's first byte
	eol   string // the file's line end: "\n" or "\r\n"
	docs  []*yaml.Node
	edits []splice

	// Anchors and aliases: an anchored node's alias users, the shared
	// node each node of an anchored collection belongs to, and the values
	// written to anchored scalars and to aliases (see checkAnchors).
	users        map[*yaml.Node][]*yaml.Node
	sharedBy     map[*yaml.Node]*yaml.Node
	anchorWrites map[*yaml.Node]string
	aliasWrites  map[*yaml.Node]string
	appUses      map[*yaml.Node]bool // aliases that stand for the app's image too
	flowFilled   map[*yaml.Node]bool // empty flow sequences an item was added to
}

// splice replaces body[start:end] with text.
type splice struct {
	start, end int
	text       string
}

var yamlDirectiveRE = regexp.MustCompile(`(?m)^%YAML[ \t][^\r\n]*`)

func parseFile(name string, data []byte) (*yfile, error) {
	f := &yfile{name: name, eol: "\n"}
	body := data
	if bytes.HasPrefix(body, []byte(bom)) {
		f.bom, body = true, body[len(bom):]
	}
	f.body = body
	if i := bytes.IndexByte(body, '\n'); i > 0 && body[i-1] == '\r' {
		f.eol = "\r\n"
	}
	if bytes.Contains(bytes.ReplaceAll(body, []byte("\r\n"), nil), []byte("\r")) {
		return nil, fmt.Errorf("%s: a carriage return without a line feed: want LF or CRLF line ends", name)
	}
	f.lines = append(f.lines, 0)
	for i, b := range body {
		if b == '\n' {
			f.lines = append(f.lines, i+1)
		}
	}
	// The parser knows YAML 1.1 only and refuses a %YAML 1.2 directive;
	// blank the directive for parsing (same length: positions hold).
	masked := yamlDirectiveRE.ReplaceAllFunc(body, func(b []byte) []byte { return bytes.Repeat([]byte(" "), len(b)) })
	dec := yaml.NewDecoder(bytes.NewReader(masked))
	for {
		var n yaml.Node
		err := dec.Decode(&n)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%s: not valid YAML: %w", name, err)
		}
		f.docs = append(f.docs, &n)
	}
	f.indexAnchors()
	return f, nil
}

// indexAnchors records who uses each anchor (its aliases) and, for an
// anchored mapping or sequence that aliases use, every node inside it.
func (f *yfile) indexAnchors() {
	var walk func(n *yaml.Node)
	walk = func(n *yaml.Node) {
		if n == nil {
			return
		}
		if n.Kind == yaml.AliasNode && n.Alias != nil {
			if f.users == nil {
				f.users = map[*yaml.Node][]*yaml.Node{}
			}
			f.users[n.Alias] = append(f.users[n.Alias], n)
			return
		}
		for _, c := range n.Content {
			walk(c)
		}
	}
	for _, d := range f.docs {
		walk(d)
	}
	var mark func(n, owner *yaml.Node)
	mark = func(n, owner *yaml.Node) {
		if n == nil || n.Kind == yaml.AliasNode {
			return
		}
		if f.sharedBy == nil {
			f.sharedBy = map[*yaml.Node]*yaml.Node{}
		}
		f.sharedBy[n] = owner
		for _, c := range n.Content {
			mark(c, owner)
		}
	}
	for a := range f.users {
		if a.Kind == yaml.MappingNode || a.Kind == yaml.SequenceNode {
			mark(a, a)
		}
	}
}

// shared refuses a write into an anchored mapping or sequence that aliases
// use elsewhere: the edit would change every user of the anchor.
func (f *yfile) shared(n *yaml.Node) error {
	if a := f.sharedBy[n]; a != nil {
		return f.anchorError(a, f.users[a])
	}
	return nil
}

func (f *yfile) anchorError(a *yaml.Node, users []*yaml.Node) error {
	var lines []string
	for _, u := range users {
		lines = append(lines, fmt.Sprintf("line %d", u.Line))
	}
	return fmt.Errorf("%s:%d: refusing to edit anchor &%s: its aliases (*%s, %s) would change with it; write the app's image without the anchor", f.name, a.Line, a.Anchor, a.Anchor, strings.Join(lines, ", "))
}

// checkAnchors refuses an edit of an anchored scalar that an alias uses
// for something the edit does not set to the same value.
func (f *yfile) checkAnchors() error {
	for a, v := range f.anchorWrites {
		if v == a.Value {
			continue // unchanged: its users keep what they had
		}
		var other []*yaml.Node
		for _, u := range f.users[a] {
			if w, ok := f.aliasWrites[u]; (!ok || w != v) && !f.appUses[u] {
				other = append(other, u)
			}
		}
		if len(other) > 0 {
			return f.anchorError(a, other)
		}
	}
	return nil
}

// appUse marks the nodes that are aliases as standing for the app's image
// (a container of the app, an entry the matcher ranks as the app's): an
// edit of their anchor writes the app's new image there too, which is what
// the anchor says.
func (f *yfile) appUse(ns ...*yaml.Node) {
	for _, n := range ns {
		if n != nil && n.Kind == yaml.AliasNode {
			if f.appUses == nil {
				f.appUses = map[*yaml.Node]bool{}
			}
			f.appUses[n] = true
		}
	}
}

// resolve follows an alias to the node it names.
func resolve(n *yaml.Node) *yaml.Node {
	for i := 0; n != nil && n.Kind == yaml.AliasNode && i < 100; i++ {
		n = n.Alias
	}
	return n
}

// roots are the documents' top-level nodes that are mappings.
func (f *yfile) roots() []*yaml.Node {
	var out []*yaml.Node
	for _, d := range f.docs {
		if len(d.Content) == 1 && d.Content[0].Kind == yaml.MappingNode {
			out = append(out, d.Content[0])
		}
	}
	return out
}

// offset is the byte offset in body of a 1-based line and column (columns
// count characters, as the parser does).
func (f *yfile) offset(line, col int) int {
	if line-1 >= len(f.lines) {
		return len(f.body)
	}
	off := f.lines[line-1]
	for i := 1; i < col && off < len(f.body); i++ {
		_, w := utf8.DecodeRune(f.body[off:])
		off += w
	}
	return off
}

// lineOf is the 1-based line holding byte offset off.
func (f *yfile) lineOf(off int) int {
	return sort.Search(len(f.lines), func(i int) bool { return f.lines[i] > off })
}

// lineEnd is the offset of the line end (before "\r\n" or "\n") of the line holding off.
func (f *yfile) lineEnd(off int) int {
	i := bytes.IndexByte(f.body[off:], '\n')
	if i < 0 {
		return len(f.body)
	}
	end := off + i
	if end > 0 && f.body[end-1] == '\r' {
		end--
	}
	return end
}

// nextLine is the offset of the line after the one holding off (len(body) at the end).
func (f *yfile) nextLine(off int) int {
	i := bytes.IndexByte(f.body[off:], '\n')
	if i < 0 {
		return len(f.body)
	}
	return off + i + 1
}

// span is a scalar's bytes: [start, end) without anchor or tag.
type span struct{ start, end int }

// valueStart skips a node's properties (an anchor, a tag) to its value.
func (f *yfile) valueStart(n *yaml.Node) int {
	off := f.offset(n.Line, n.Column)
	for off < len(f.body) && (f.body[off] == '&' || f.body[off] == '!') {
		for off < len(f.body) && !isSpace(f.body[off]) {
			off++
		}
		for off < len(f.body) && (f.body[off] == ' ' || f.body[off] == '\t') {
			off++
		}
	}
	return off
}

func isSpace(b byte) bool { return b == ' ' || b == '\t' || b == '\n' || b == '\r' }

// scalarSpan finds a scalar's bytes and checks them: what it found must
// decode to the parser's value, or the file is left alone.
func (f *yfile) scalarSpan(n *yaml.Node) (span, error) {
	if n.Kind != yaml.ScalarNode {
		return span{}, f.errAt(n, "want a scalar")
	}
	start := f.valueStart(n)
	if start >= len(f.body) {
		return span{}, f.errAt(n, "value not found")
	}
	end := -1
	switch {
	case n.Style&yaml.DoubleQuotedStyle != 0:
		for i := start + 1; i < len(f.body); i++ {
			if f.body[i] == '\\' {
				i++
				continue
			}
			if f.body[i] == '"' {
				end = i + 1
				break
			}
		}
	case n.Style&yaml.SingleQuotedStyle != 0:
		for i := start + 1; i < len(f.body); i++ {
			if f.body[i] == '\'' {
				if i+1 < len(f.body) && f.body[i+1] == '\'' {
					i++
					continue
				}
				end = i + 1
				break
			}
		}
	case n.Style&(yaml.LiteralStyle|yaml.FoldedStyle) != 0:
		return span{}, f.errAt(n, "a block scalar (| or >): write the value on one line")
	default:
		// A plain scalar: to the comment or the line end, or in a flow
		// collection to the next indicator.
		le := f.lineEnd(start)
		line := f.body[start:le]
		cut := len(line)
		if i := bytes.Index(line, []byte(" #")); i >= 0 {
			cut = i
		}
		if i := bytes.Index(line, []byte("\t#")); i >= 0 && i < cut {
			cut = i
		}
		cand := strings.TrimRight(string(line[:cut]), " \t")
		if v := n.Value; cand != v && v != "" && bytes.HasPrefix(line, []byte(v)) && (len(line) == len(v) || strings.ContainsRune(": \t,]}", rune(line[len(v)]))) {
			cand = v // a key, or a value followed by an indicator
		}
		if cand != n.Value {
			if i := bytes.IndexAny(line[:cut], ",]}"); i >= 0 {
				cand = strings.TrimRight(string(line[:i]), " \t")
			}
		}
		if cand != n.Value {
			return span{}, f.errAt(n, "a plain scalar over several lines: write the value on one line")
		}
		end = start + len(cand)
	}
	if end < 0 {
		return span{}, f.errAt(n, "unterminated quoted scalar")
	}
	if n.Tag == "!!null" && n.Style&(yaml.DoubleQuotedStyle|yaml.SingleQuotedStyle) == 0 {
		return span{start, end}, nil // ~ or null: the plain text is the value
	}
	var v string
	if err := yaml.Unmarshal(f.body[start:end], &v); err != nil || v != n.Value {
		return span{}, f.errAt(n, "cannot locate the value's bytes")
	}
	return span{start, end}, nil
}

func (f *yfile) errAt(n *yaml.Node, msg string) error {
	return fmt.Errorf("%s:%d: %s", f.name, n.Line, msg)
}

// quoteLike formats value in the quoting style of the node it replaces
// (or of its neighbours, for a new one): double, single, or plain when
// plain reads back as the same string.
func quoteLike(style yaml.Style, value string, flow bool) string {
	switch {
	case style&yaml.DoubleQuotedStyle != 0:
		return doubleQuote(value)
	case style&yaml.SingleQuotedStyle != 0:
		return "'" + strings.ReplaceAll(value, "'", "''") + "'"
	}
	if plainSafe(value, flow) {
		return value
	}
	return doubleQuote(value)
}

func doubleQuote(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`, "\t", `\t`).Replace(s) + `"`
}

func plainSafe(s string, flow bool) bool {
	if s == "" || strings.TrimSpace(s) != s || strings.ContainsAny(s, "\n\r\t") {
		return false
	}
	if strings.ContainsRune("-?:,[]{}#&*!|>'\"%@`", rune(s[0])) {
		return false
	}
	if strings.Contains(s, ": ") || strings.Contains(s, " #") || strings.HasSuffix(s, ":") {
		return false
	}
	if flow && strings.ContainsAny(s, ",[]{}") {
		return false
	}
	var v any
	if err := yaml.Unmarshal([]byte(s), &v); err != nil {
		return false
	}
	str, ok := v.(string)
	return ok && str == s
}

// setScalar replaces a scalar's value in its own quoting style; no splice
// when it already holds the value.
func (f *yfile) setScalar(n *yaml.Node, value string, flow bool) error {
	if n.Kind == yaml.AliasNode {
		return f.setAlias(n, value, flow)
	}
	if err := f.shared(n); err != nil {
		return err
	}
	if len(f.users[n]) > 0 {
		if f.anchorWrites == nil {
			f.anchorWrites = map[*yaml.Node]string{}
		}
		f.anchorWrites[n] = value
	}
	if n.Value == value {
		return nil
	}
	sp, err := f.scalarSpan(n)
	if err != nil {
		return err
	}
	if sp.start == sp.end && n.Tag == "!!null" && n.Style&(yaml.DoubleQuotedStyle|yaml.SingleQuotedStyle) == 0 {
		// An empty value (`digest:`): the node sits right after the colon.
		// Write " value", over trailing blanks, before a comment.
		le := f.lineEnd(sp.start)
		if le > sp.start && f.body[le-1] == '\r' {
			le--
		}
		end := sp.start
		if strings.TrimLeft(string(f.body[sp.start:le]), " \t") == "" {
			end = le
		} else if !isSpace(f.body[sp.start]) {
			return f.errAt(n, "cannot locate the value's bytes") // flow: `{digest: }`
		}
		f.add(splice{sp.start, end, " " + quoteLike(n.Style, value, flow)})
		return nil
	}
	f.add(splice{sp.start, sp.end, quoteLike(n.Style, value, flow)})
	return nil
}

// setAlias writes value where an alias (*name) stands: nothing when its
// anchor holds the value (or is written with it), else the value in place
// of the alias, in the anchor's quoting style; the anchor and its other
// users stay as they are.
func (f *yfile) setAlias(n *yaml.Node, value string, flow bool) error {
	if f.aliasWrites == nil {
		f.aliasWrites = map[*yaml.Node]string{}
	}
	f.aliasWrites[n] = value
	a := resolve(n)
	if a == nil || a.Kind != yaml.ScalarNode {
		return f.errAt(n, "an alias (*"+n.Value+") of a mapping or list where a value goes")
	}
	if w, ok := f.anchorWrites[a]; ok && w == value || !ok && str(a) == value {
		return nil
	}
	start := f.offset(n.Line, n.Column)
	text := "*" + n.Value
	if !bytes.HasPrefix(f.body[start:], []byte(text)) {
		return f.errAt(n, "cannot locate the alias' bytes")
	}
	f.add(splice{start, start + len(text), quoteLike(a.Style&(yaml.DoubleQuotedStyle|yaml.SingleQuotedStyle), value, flow)})
	return nil
}

func (f *yfile) add(s splice) { f.edits = append(f.edits, s) }

// mapGet returns a mapping's key and value nodes for a key.
// An alias is followed; keys a merge key (<<: *anchor) brings are found
// too (they are the anchor's nodes: writing them is refused as shared).
func mapGet(m *yaml.Node, key string) (k, v *yaml.Node) {
	m = resolve(m)
	if m == nil || m.Kind != yaml.MappingNode {
		return nil, nil
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key && m.Content[i].Tag != "!!merge" {
			return m.Content[i], m.Content[i+1]
		}
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Tag != "!!merge" {
			continue
		}
		merged := []*yaml.Node{m.Content[i+1]}
		if s := resolve(m.Content[i+1]); s != nil && s.Kind == yaml.SequenceNode {
			merged = s.Content
		}
		for _, x := range merged {
			if k, v := mapGet(x, key); k != nil {
				return k, v
			}
		}
	}
	return nil, nil
}

func mapValue(m *yaml.Node, key string) *yaml.Node {
	_, v := mapGet(m, key)
	return v
}

// lookup follows keys through nested mappings.
func lookup(n *yaml.Node, keys ...string) *yaml.Node {
	for _, k := range keys {
		n = mapValue(n, k)
		if n == nil {
			return nil
		}
	}
	return n
}

// str is a scalar's value, "" for anything else.
func str(n *yaml.Node) string {
	n = resolve(n)
	if n == nil || n.Kind != yaml.ScalarNode || n.Tag == "!!null" {
		return ""
	}
	return strings.TrimSpace(n.Value)
}

func isFlow(n *yaml.Node) bool { return n != nil && n.Style&yaml.FlowStyle != 0 }

// nodeEnd is the offset just past a node's last byte.
func (f *yfile) nodeEnd(n *yaml.Node) (int, error) {
	switch n.Kind {
	case yaml.ScalarNode:
		if n.Style&(yaml.LiteralStyle|yaml.FoldedStyle) != 0 {
			return f.blockScalarEnd(n), nil
		}
		if n.Tag == "!!null" && n.Value == "" {
			// An empty value: its position is where it would be.
			return f.valueStart(n), nil
		}
		sp, err := f.scalarSpan(n)
		return sp.end, err
	case yaml.AliasNode:
		off := f.offset(n.Line, n.Column)
		for off < len(f.body) && !isSpace(f.body[off]) && !strings.ContainsRune(",]}", rune(f.body[off])) {
			off++
		}
		return off, nil
	case yaml.MappingNode, yaml.SequenceNode:
		if isFlow(n) {
			return f.flowEnd(n)
		}
		if len(n.Content) == 0 {
			return f.valueStart(n), nil
		}
		return f.nodeEnd(n.Content[len(n.Content)-1])
	}
	return 0, f.errAt(n, "unexpected node")
}

// flowEnd finds the closing bracket of a flow collection.
func (f *yfile) flowEnd(n *yaml.Node) (int, error) {
	start := f.valueStart(n)
	closer := byte(']')
	if n.Kind == yaml.MappingNode {
		closer = '}'
	}
	from := start + 1
	if len(n.Content) > 0 {
		e, err := f.nodeEnd(n.Content[len(n.Content)-1])
		if err != nil {
			return 0, err
		}
		from = e
	}
	i, err := f.skipTo(from, closer)
	if err != nil {
		return 0, f.errAt(n, "unterminated flow collection")
	}
	return i + 1, nil
}

// skipTo finds byte c from off, skipping whitespace, commas and comments.
func (f *yfile) skipTo(off int, c byte) (int, error) {
	for off < len(f.body) {
		switch b := f.body[off]; {
		case b == c:
			return off, nil
		case b == '#':
			off = f.lineEnd(off)
		case isSpace(b) || b == ',':
			off++
		default:
			return 0, fmt.Errorf("unexpected %q", b)
		}
	}
	return 0, io.ErrUnexpectedEOF
}

// blockScalarEnd: a block scalar's content runs over the lines indented
// more than its key (or blank); the end is the end of its last content line.
func (f *yfile) blockScalarEnd(n *yaml.Node) int {
	start := f.valueStart(n)
	end := f.lineEnd(start)
	parentIndent := f.indentOfLine(start)
	for off := f.nextLine(start); off < len(f.body); off = f.nextLine(off) {
		le := f.lineEnd(off)
		line := f.body[off:le]
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		if f.indentOfLine(off) <= parentIndent {
			break
		}
		end = le
	}
	return end
}

// indentOfLine counts the leading spaces of the line holding off.
func (f *yfile) indentOfLine(off int) int {
	ls := f.lines[f.lineOf(off)-1]
	i := ls
	for i < len(f.body) && f.body[i] == ' ' {
		i++
	}
	return i - ls
}

// column is the 0-based character column of offset off.
func (f *yfile) column(off int) int {
	ls := f.lines[f.lineOf(off)-1]
	return utf8.RuneCount(f.body[ls:off])
}

// apply splices the edits into the original bytes, and records which lines changed.
func (f *yfile) apply() ([]byte, error) {
	if err := f.checkAnchors(); err != nil {
		return nil, err
	}
	edits := append([]splice(nil), f.edits...)
	sortSplices(edits)
	for i := 1; i < len(edits); i++ {
		if edits[i].start < edits[i-1].end {
			return nil, fmt.Errorf("%s: overlapping edits", f.name)
		}
	}
	var out bytes.Buffer
	if f.bom {
		out.WriteString(bom)
	}
	prev := 0
	for _, e := range edits {
		out.Write(f.body[prev:e.start])
		out.WriteString(e.text)
		prev = e.end
	}
	out.Write(f.body[prev:])
	return out.Bytes(), nil
}

// sortSplices orders splices by position; an insertion comes before a
// deletion that starts where it is inserted.
func sortSplices(s []splice) {
	sort.SliceStable(s, func(i, j int) bool {
		if s[i].start != s[j].start {
			return s[i].start < s[j].start
		}
		return s[i].end < s[j].end
	})
}

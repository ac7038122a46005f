package render

import (
	"bytes"
	"errors"
	"fmt"
	"path"
	"strings"

	sigyaml "sigs.k8s.io/yaml"
)

// ErrRemote is a render that would read from the network: a kustomization
// naming an http(s) URL or a remote base (a git repository). Rendering is
// offline, so such an environment is not proven by a render; it never waits
// on a server.
var ErrRemote = errors.New("a remote resource is not fetched while rendering")

// remoteIn returns the first remote reference of the kustomization file
// name (its directory dir in fsys): any http(s) URL in it, or an entry of
// resources, components or bases that is not a path in the repository.
func remoteIn(k *kfs, name string, data []byte) string {
	var doc map[string]any
	if sigyaml.Unmarshal(stripDirectives(data), &doc) != nil {
		return ""
	}
	// The fields whose entries kustomize loads (a file, a URL, a base).
	for _, field := range []string{"resources", "components", "bases", "crds", "patchesStrategicMerge",
		"patches", "patchesJson6902", "configurations", "generators", "transformers", "validators",
		"openapi", "configMapGenerator", "secretGenerator", "replacements", "helmCharts", "helmGlobals"} {
		if u := urlIn(doc[field]); u != "" {
			return u
		}
	}
	dir := path.Dir(name)
	for _, field := range []string{"resources", "components", "bases"} {
		list, _ := doc[field].([]any)
		for _, e := range list {
			s, ok := e.(string)
			if !ok || s == "" {
				continue
			}
			if path.IsAbs(s) || !k.Exists("/"+path.Join(dir, s)) {
				if looksRemote(s) {
					return s
				}
			}
		}
	}
	return ""
}

// looksRemote: what kustomize would clone with git (github.com/org/repo,
// git@host:org/repo, ssh://, https://, git::, ?ref=).
func looksRemote(s string) bool {
	if strings.Contains(s, "://") || strings.HasPrefix(s, "git@") || strings.HasPrefix(s, "git::") ||
		strings.Contains(s, "?ref=") || strings.Contains(s, "?version=") || strings.Contains(s, "_git/") {
		return true
	}
	host, _, ok := strings.Cut(s, "/")
	return ok && strings.Contains(host, ".") && host != "." && host != ".." && !strings.HasPrefix(host, ".")
}

func urlIn(v any) string {
	switch v := v.(type) {
	case string:
		if l := strings.ToLower(v); strings.HasPrefix(l, "http://") || strings.HasPrefix(l, "https://") {
			return v
		}
	case []any:
		for _, e := range v {
			if u := urlIn(e); u != "" {
				return u
			}
		}
	case map[string]any:
		for _, e := range v {
			if u := urlIn(e); u != "" {
				return u
			}
		}
	}
	return ""
}

// stripDirectives blanks YAML directives (%YAML 1.2, %TAG …) at the start
// of each document, which kustomize's and kyaml's parsers refuse: the
// render reads the same documents; the repository's bytes are not changed.
func stripDirectives(data []byte) []byte {
	if !bytes.Contains(data, []byte("%")) {
		return data
	}
	lines := bytes.SplitAfter(data, []byte("\n"))
	prologue, changed := true, false
	for i, l := range lines {
		t := bytes.TrimRight(l, "\r\n")
		if i == 0 {
			t = bytes.TrimPrefix(t, []byte("\ufeff"))
		}
		switch {
		case prologue && bytes.HasPrefix(t, []byte("%")):
			lines[i] = append([]byte("#"), l...) // a comment keeps line numbers
			changed = true
		case bytes.Equal(t, []byte("...")):
			prologue = true
		case prologue && (len(bytes.TrimSpace(t)) == 0 || bytes.HasPrefix(bytes.TrimSpace(t), []byte("#"))):
		default:
			prologue = false
		}
	}
	if !changed {
		return data
	}
	if bytes.HasPrefix(lines[0], []byte("#\ufeff")) {
		lines[0] = append([]byte("\ufeff#"), lines[0][len("#\ufeff"):]...)
	}
	return bytes.Join(lines, nil)
}

func remoteError(ref, file string) error {
	return fmt.Errorf("%w: %s in %s", ErrRemote, ref, file)
}

package gitops

import (
	"path"
	"regexp"
	"sort"
	"strings"

	"github.com/slipway-ci/slipway/internal/usage"
)

// Names the user gives (--app, --env, --from, --to) are checked here: a name
// that breaks the rule, or that names nothing the repository knows, is a
// usage error (exit 2) naming the value and what exists, never a silent no-op
// or a refusal.

// checkName refuses a name that cannot be an app or environment directory.
func checkName(kind, name string) error {
	if nameRE.MatchString(name) {
		return nil
	}
	if low := strings.ToLower(name); low != name && nameRE.MatchString(low) {
		return usage.Errorf("%s %q: want a lowercase name (did you mean %q?)", kind, name, low)
	}
	return usage.Errorf("%s %q: want a lowercase name (letters, digits, . _ -)", kind, name)
}

// layoutApps lists, for a layout template, the apps and their environments
// that have a manifest at the head: every path the template matches, with
// {app} and {env} matching one path segment (or part of one). A default
// layout's kustomization may also be kustomization.yml or Kustomization.
func (s *snapshot) layoutApps(layout string) map[string][]string {
	if layout == "" {
		layout = DefaultLayout
	}
	segs := strings.Split(path.Clean(layout), "/")
	pats := make([]*regexp.Regexp, len(segs))
	for i, seg := range segs {
		re := regexp.QuoteMeta(seg)
		re = strings.ReplaceAll(re, regexp.QuoteMeta("{app}"), `(?P<app>[^/]+)`)
		re = strings.ReplaceAll(re, regexp.QuoteMeta("{env}"), `(?P<env>[^/]+)`)
		pats[i] = regexp.MustCompile("^" + re + "$")
	}
	out := map[string][]string{}
	var walk func(dir string, i int, app, env string)
	walk = func(dir string, i int, app, env string) {
		last := i == len(segs)-1
		var names []string
		if last {
			names = []string{segs[i]}
			if segs[i] == "kustomization.yaml" {
				names = append(names, "kustomization.yml", "Kustomization")
			}
			if strings.Contains(segs[i], "{") {
				names = s.files(dir)
			}
		} else if strings.Contains(segs[i], "{") {
			names = s.dirs(dir)
		} else {
			names = []string{segs[i]}
		}
		for _, n := range names {
			m := pats[i].FindStringSubmatch(n)
			if m == nil && (!last || segs[i] != "kustomization.yaml") {
				continue
			}
			a, e := app, env
			for j, g := range pats[i].SubexpNames() {
				switch {
				case m == nil:
				case g == "app":
					a = m[j]
				case g == "env":
					e = m[j]
				}
			}
			p := path.Join(dir, n)
			if !last {
				walk(p, i+1, a, e)
				continue
			}
			if _, ok := s.readFile(p); ok && e != "" {
				out[a] = append(out[a], e)
				return
			}
		}
	}
	walk(".", 0, "", "")
	for a := range out {
		sort.Strings(out[a])
	}
	return out
}

// files lists the files directly under p at the head.
func (s *snapshot) files(p string) []string {
	t := s.tree
	if p != "." {
		sub, err := s.tree.Tree(p)
		if err != nil {
			return nil
		}
		t = sub
	}
	var out []string
	for _, e := range t.Entries {
		if e.Mode.IsFile() {
			out = append(out, e.Name)
		}
	}
	return out
}

// knownNames are the apps and the environments the repository knows: those
// with a manifest at the head (by the layout) and those named by a record.
func knownNames(s *snapshot, layout string, recs []Record) (apps, envs []string) {
	a, e := map[string]bool{}, map[string]bool{}
	for app, es := range s.layoutApps(layout) {
		if app != "" {
			a[app] = true
		}
		for _, env := range es {
			e[env] = true
		}
	}
	for _, r := range recs {
		if r.App != "" {
			a[r.App] = true
		}
		if r.Env != "" {
			e[r.Env] = true
		}
	}
	return sortedKeys(a), sortedKeys(e)
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// unknown is the usage error for a well-formed name that names nothing.
func unknown(kind, name string, r *Remote, known []string) error {
	return usage.Errorf("%s %q does not exist in %s (%ss: %s)", kind, name, r, kind, orNone(known))
}

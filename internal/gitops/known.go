package gitops

import (
	"sort"
	"strings"

	"github.com/slipway-ci/slipway/internal/usage"
)

// Names the user gives (--app, --env, --from, --to) are checked here: a name
// that breaks the rule, or that names nothing the repository knows, is a
// usage error (exit 2) naming the value and what exists, never a silent no-op
// or a refusal.

// CheckName refuses a name (kind "app" or "environment") that cannot be an
// app or environment directory: a usage error naming the value and the rule.
// Commands check the names they are given with it before anything else.
func CheckName(kind, name string) error { return checkName(kind, name) }

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
// that have a manifest at the head, through the one layout resolver
// (layoutFiles); an app the layout does not name is "".
func (s *snapshot) layoutApps(layout string) map[string][]string {
	out := map[string][]string{}
	for _, e := range s.layoutFiles(layout) {
		if e.Env != "" {
			out[e.App] = append(out[e.App], e.Env)
		}
	}
	for a := range out {
		sort.Strings(out[a])
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

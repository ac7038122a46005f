package gitops

import (
	"bytes"
	"context"
	"errors"
	"path"
	"regexp"
	"slices"
	"sort"
	"strings"

	"github.com/go-git/go-git/v5/plumbing/filemode"
	sigyaml "sigs.k8s.io/yaml"

	"github.com/slipway-ci/slipway/internal/manifest"
	"github.com/slipway-ci/slipway/internal/render"
)

// envFile is one environment of one app and the file it lives in.
type envFile struct {
	App, Env, File string
	// ambiguous: the path splits into more than one app and environment
	// (apps/{app}-{env}.yaml holding my-api-staging-eu.yaml); only the
	// deploy records say which pair it is.
	ambiguous bool
}

var placeholderRE = regexp.MustCompile(`\{(app|env)\}`)

// segmentRE turns one segment of a layout ("values-{env}.yaml") into a
// regular expression whose groups capture the placeholders.
func segmentRE(seg string) (*regexp.Regexp, []string) {
	return segmentREx(seg, false)
}

// segmentREx is segmentRE with lazy captures: where it captures other
// values than the greedy segmentRE, the segment is ambiguous.
func segmentREx(seg string, lazy bool) (*regexp.Regexp, []string) {
	rep := `([a-z0-9](?:[a-z0-9._-]{0,61}[a-z0-9])?)`
	if lazy {
		rep = `([a-z0-9](?:[a-z0-9._-]{0,61}?[a-z0-9])??)`
	}
	var b strings.Builder
	var names []string
	b.WriteString("^")
	last := 0
	for _, m := range placeholderRE.FindAllStringSubmatchIndex(seg, -1) {
		b.WriteString(regexp.QuoteMeta(seg[last:m[0]]))
		b.WriteString(rep)
		names = append(names, seg[m[2]:m[3]])
		last = m[1]
	}
	b.WriteString(regexp.QuoteMeta(seg[last:]))
	b.WriteString("$")
	return regexp.MustCompile(b.String()), names
}

// layoutEnvs lists every app and environment the layout finds in the tree:
// the one resolver status, the report and the guard's readers share with
// deploy (resolveFile). A layout without {app} (Flux's apps/{env}/…) holds
// several apps in one file: they are the apps the records deployed there.
// A layout without {env} (a flat {app}/…) serves every environment the
// records name.
func (s *snapshot) layoutEnvs(ctx context.Context, charts render.ChartFunc, layout string, recs []Record) []envFile {
	found := s.layoutFiles(layout)
	if layout == "" {
		layout = DefaultLayout
	}
	return s.fillLayout(ctx, charts, layout, found, recs)
}

// layoutFiles lists every file the layout matches at the head, with the
// app and environment its path names ("" where the layout has no {app} or
// {env}).
func (s *snapshot) layoutFiles(layout string) []envFile {
	if layout == "" {
		layout = DefaultLayout
	}
	segs := strings.Split(path.Clean(layout), "/")
	var found []envFile
	var walk func(dir string, i int, bound map[string]string)
	walk = func(dir string, i int, bound map[string]string) {
		seg := segs[i]
		last := i == len(segs)-1
		if !strings.Contains(seg, "{") {
			p := path.Join(dir, seg)
			if last {
				if _, ok := s.readFile(p); ok {
					found = append(found, envFile{App: bound["app"], Env: bound["env"], File: p})
				} else if isKustomizationFile(p) {
					if k, _, ok := s.kustomizationIn(dir); ok {
						found = append(found, envFile{App: bound["app"], Env: bound["env"], File: k})
					}
				}
				return
			}
			if _, err := s.tree.Tree(p); err == nil || p == "." {
				walk(p, i+1, bound)
			}
			return
		}
		re, names := segmentRE(seg)
		lazy, _ := segmentREx(seg, true)
		for _, e := range s.entries(dir) {
			m := re.FindStringSubmatch(e.name)
			if m == nil || e.dir == last {
				continue
			}
			amb := bound["?"] != ""
			if lm := lazy.FindStringSubmatch(e.name); len(names) > 1 && !slices.Equal(lm, m) {
				amb = true
			}
			next := map[string]string{}
			for k, v := range bound {
				next[k] = v
			}
			if amb {
				next["?"] = "ambiguous"
			}
			ok := true
			for j, n := range names {
				if v, set := next[n]; set && v != m[j+1] {
					ok = false
				}
				next[n] = m[j+1]
			}
			if !ok {
				continue
			}
			if last {
				found = append(found, envFile{App: next["app"], Env: next["env"], File: path.Join(dir, e.name), ambiguous: amb})
				continue
			}
			walk(path.Join(dir, e.name), i+1, next)
		}
	}
	walk(".", 0, map[string]string{})
	return found
}

// fillLayout fills what the layout does not name from the records and the
// files themselves. The records decide: a file a record's app and
// environment resolve to (through the layout, as deploy resolved it) is that
// pair's, whatever its path seems to say; a path is read as a pair only
// where it splits one way (apps/{app}-{env}.yaml holding
// my-api-staging-eu.yaml does not). A file shared by several apps (no {app}
// in the layout) is a record's app's only when it holds that app.
func (s *snapshot) fillLayout(ctx context.Context, charts render.ChartFunc, layout string, found []envFile, recs []Record) []envFile {
	var out []envFile
	seen := map[envFile]bool{}
	add := func(e envFile) {
		e = envFile{App: e.App, Env: e.Env, File: e.File}
		if e.App != "" && e.Env != "" && !seen[e] {
			seen[e] = true
			out = append(out, e)
		}
	}
	shared := !strings.Contains(layout, "{app}")
	type pair struct{ app, env string }
	var pairs []pair
	done := map[pair]bool{}
	for _, r := range recs {
		p := pair{r.App, r.Env}
		if r.App == "" || r.Env == "" || done[p] {
			continue
		}
		done[p] = true
		pairs = append(pairs, p)
	}
	for _, e := range found {
		claimed := false
		for _, p := range pairs {
			lp := LayoutPath(layout, p.app, p.env)
			if lp != e.File && (!isKustomizationFile(e.File) || !isKustomizationFile(lp) || path.Dir(lp) != path.Dir(e.File)) {
				continue
			}
			if shared && !s.holds(ctx, charts, e.File, p.app, p.env, recs) {
				continue
			}
			claimed = true
			add(envFile{App: p.app, Env: p.env, File: e.File})
		}
		if claimed {
			continue
		}
		if shared && e.Env != "" && !e.ambiguous {
			// Another environment's file of a shared layout holds a
			// recorded app when it renders it (Flux's apps/prod patching
			// the HelmRelease staging was deployed through).
			for _, app := range recordedApps(recs) {
				if s.holds(ctx, charts, e.File, app, e.Env, recs) {
					add(envFile{App: app, Env: e.Env, File: e.File})
				}
			}
		}
		if e.App != "" && e.Env != "" {
			if !e.ambiguous {
				add(e)
			}
			continue
		}
		// A file shared by several apps (no {app} in the layout) names
		// them itself: its images: entries and containers, as deploy
		// matches them (an entry named ghcr.io/acme/web is web's).
		if e.App == "" && e.Env != "" && !e.ambiguous {
			for _, app := range s.appsIn(e.File) {
				add(envFile{App: app, Env: e.Env, File: e.File})
			}
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].App != out[j].App {
			return out[i].App < out[j].App
		}
		return out[i].Env < out[j].Env
	})
	return out
}

// holds reports whether a file shared by several apps holds app: an
// images: entry or container deploy would edit for it.
func (s *snapshot) holds(ctx context.Context, charts render.ChartFunc, file, app, env string, recs []Record) bool {
	if slices.Contains(s.appsIn(file), app) {
		return true
	}
	// A deploy through --path into what the file builds (Flux's
	// apps/staging/podinfo-values.yaml patching a HelmRelease next to
	// apps/staging/kustomization.yaml): the record says the app is there.
	dir := path.Dir(file)
	for _, r := range recs {
		if isKustomizationFile(file) && r.App == app && r.Path != "" && r.Path != file && (path.Dir(r.Path) == dir || strings.HasPrefix(r.Path, dir+"/")) {
			return true
		}
	}
	data, ok := s.readFile(file)
	if !ok {
		return false
	}
	var repos []string
	for _, r := range recs {
		if r.App == app {
			if img, err := ParseImage(r.Image); err == nil {
				repos = append(repos, img.Repo)
			}
		}
	}
	_, err := manifest.CurrentSet(file, data, manifest.Set{App: app, Repos: repos})
	if err == nil || !errors.Is(err, manifest.ErrNoMatch) {
		return true
	}
	if !isKustomizationFile(file) || ctx.Err() != nil {
		return false
	}
	// What the file builds runs the app (a HelmRelease's chart rendered
	// with the overlay's patched values).
	rctx, cancel := context.WithTimeout(ctx, EnvRenderLimit)
	defer cancel()
	rn, err := s.runs(rctx, charts, file, app, env, repos)
	if rctx.Err() != nil {
		return false
	}
	return err != nil || rn.Unrendered == ""
}

// recordedApps lists the apps the records name, in their order.
func recordedApps(recs []Record) []string {
	var out []string
	for _, r := range recs {
		if r.App != "" && !slices.Contains(out, r.App) {
			out = append(out, r.App)
		}
	}
	return out
}

type treeEntry struct {
	name string
	dir  bool
}

// entries lists a directory of the tree, hidden entries left out.
func (s *snapshot) entries(dir string) []treeEntry {
	t := s.tree
	if dir != "." {
		sub, err := s.tree.Tree(dir)
		if err != nil {
			return nil
		}
		t = sub
	}
	var out []treeEntry
	for _, e := range t.Entries {
		if strings.HasPrefix(e.Name, ".") {
			continue
		}
		if e.Mode == filemode.Submodule {
			continue
		}
		out = append(out, treeEntry{name: e.Name, dir: e.Mode == filemode.Dir})
	}
	return out
}

// layoutApps lists the apps a layout finds, for error messages.
func layoutApps(envs []envFile) []string {
	seen := map[string]bool{}
	var out []string
	for _, e := range envs {
		if !seen[e.App] {
			seen[e.App] = true
			out = append(out, e.App)
		}
	}
	return out
}

// appsIn names the apps a shared environment file deploys: the last path
// segment of each images: entry's name, and each workload container's name.
func (s *snapshot) appsIn(file string) []string {
	data, ok := s.readFile(file)
	if !ok {
		return nil
	}
	var out []string
	if isKustomizationFile(file) {
		var k struct {
			Images []struct {
				Name string `json:"name"`
			} `json:"images"`
		}
		if sigyaml.Unmarshal(bytes.TrimPrefix(data, []byte("\ufeff")), &k) == nil {
			for _, e := range k.Images {
				if app := path.Base(repoOf(e.Name)); nameRE.MatchString(app) {
					out = append(out, app)
				}
			}
		}
		return out
	}
	cs, _ := manifest.Containers(file, data)
	for _, c := range cs {
		if nameRE.MatchString(c.Name) {
			out = append(out, c.Name)
		}
	}
	return out
}

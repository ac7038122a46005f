package flow

import (
	"os"
	"path/filepath"
	"strings"

	"github.com/slipway-ci/slipway/internal/affected"
	"github.com/slipway-ci/slipway/internal/dag"
	"github.com/slipway-ci/slipway/internal/version"
)

// Inputs is the version the app's image is stamped with: the newest commit
// that changed what its build reads (affected.Sets.Build: its main package
// and manifests, the non-test files of the packages it imports, their
// embedded and include directories, go.mod, go.sum, vendor/modules.txt,
// the image lock, ci/, AlwaysRebuild paths), and whether those files are
// modified now. Its revision label, created time, version and -ldflags come
// from there, so a commit to another app, or to a test, leaves this app's
// image, and its digest, as they were, and its deploy is "unchanged".
// r.Version stays the checked-out commit: tags, deploy records and the
// provenance's source name it; the provenance names both.
func (r *App) Inputs() version.Info {
	r.inputsOnce.Do(func() {
		r.inputsInfo, r.inputsRoot, r.inputsSets = InputsOf(r.run.opts.Global, r.run.opts.LockPath, r.Spec, r.Src, r.Version, r.run.logf)
	})
	return r.inputsInfo
}

// InputsOf is head narrowed to app a's build inputs (version.Info.Inputs
// over affected.InputSets' Build, read in the directory the pipeline runs
// in), with the directory and the input sets. A Source outside that
// directory is its own input set (everything under it, which is what the
// stages copy) and keeps head.
func InputsOf(g affected.Global, lockPath string, a AppSpec, src string, head version.Info, logf func(string, ...any)) (version.Info, string, affected.Sets) {
	everything := affected.Sets{Build: []string{"."}, BuildIgnored: []string{"."}, Check: []string{"."}, CheckIgnored: []string{"."}}
	wd, err := os.Getwd()
	if err != nil {
		return head, src, everything
	}
	rel, err := filepath.Rel(wd, src)
	if err != nil || !filepath.IsLocal(rel) && rel != "." {
		return head, src, everything
	}
	global := g
	global.Files = append(append([]string{}, global.Files...), lockPath)
	sets, err := affected.InputSets(wd, affected.App{Name: a.Name, Source: filepath.ToSlash(rel), Main: a.Main, Deploy: a.Deploy}, global)
	if err != nil {
		logf("warning: %s: reading its inputs: %v; its image names HEAD", a.Name, err)
		return head, src, everything
	}
	if head.Commit == "" {
		return head, wd, sets
	}
	return head.Inputs(wd, sets.Build), wd, sets
}

// Input kinds: what a stage reads (see affected.Sets).
const (
	readsBuild = "build" // build and scan
	readsCheck = "check" // lint and test
	readsAll   = "all"   // custom stages: anything of the source
)

// readsOf is what the stage named base reads.
func readsOf(base string) string {
	switch base {
	case StageBuild, StageScan:
		return readsBuild
	case StageLint, StageTest:
		return readsCheck
	}
	return readsAll
}

// contentKey is the content of what stages of kind reads now
// (version.ContentKeyOf over the input set, gitignored files of the package
// directories included: the stages copy them), read once per run and kind:
// "" outside a git checkout.
func (r *App) contentKey(kind string) string {
	r.Inputs()
	r.contentMu.Lock()
	defer r.contentMu.Unlock()
	if k, ok := r.content[kind]; ok {
		return k
	}
	if r.content == nil {
		r.content = map[string]string{}
	}
	if r.Version.Commit == "" {
		return ""
	}
	s := r.inputsSets
	var c version.Content
	switch kind {
	case readsBuild:
		c = version.Content{Pathspecs: s.Build, Ignored: s.BuildIgnored}
	case readsCheck:
		c = version.Content{Pathspecs: s.Check, Ignored: s.CheckIgnored}
	default:
		c = version.Content{Pathspecs: s.All(), Ignored: append(append([]string{}, s.BuildIgnored...), s.CheckIgnored...)}
	}
	c.Skip = copiedNot(r.inputsRoot, r.Src)
	key, err := version.ContentKeyOf(r.inputsRoot, c)
	if err != nil {
		r.run.logf("warning: %s: %v: stages are not reused", r.Spec.Name, err)
	}
	r.content[kind] = key
	return key
}

// copiedNot reports whether a gitignored file (relative to root) is one the
// stages never copy from src (dag.SourceExclude: git's data and Slipway's
// out/ at its top, test binaries, coverage profiles, go.work): it is not an
// input.
func copiedNot(root, src string) func(string) bool {
	top, err := filepath.Rel(root, src)
	if err != nil {
		top = "."
	}
	top = filepath.ToSlash(top)
	return func(rel string) bool {
		in := rel
		if top != "." {
			in = strings.TrimPrefix(rel, top+"/")
		}
		base := rel[strings.LastIndex(rel, "/")+1:]
		for _, x := range dag.SourceExclude {
			if g, ok := strings.CutPrefix(x, "**/*"); ok {
				if strings.HasSuffix(base, g) {
					return true
				}
				continue
			}
			if in == x || strings.HasPrefix(in, x+"/") {
				return true
			}
		}
		return false
	}
}

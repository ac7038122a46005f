package flow

import (
	"os"
	"path/filepath"

	"github.com/slipway-ci/slipway/internal/affected"
	"github.com/slipway-ci/slipway/internal/version"
)

// Inputs is the version the app's image is stamped with: the newest commit
// that changed what the affected-app analysis says the app depends on (its
// main package and manifests, the repository packages it imports, their
// go.mod and go.sum, the image lock, ci/, AlwaysRebuild paths), and whether
// those files are modified now. Its revision label, created time, version
// and -ldflags come from there, so a commit to another app leaves this app's
// image, and its digest, as they were, and its deploy is "unchanged".
// r.Version stays the checked-out commit: tags, deploy records and the
// provenance's source name it; the provenance names both.
func (r *App) Inputs() version.Info {
	r.inputsOnce.Do(func() {
		r.inputsInfo, r.inputsRoot, r.inputsSpecs = InputsOf(r.run.opts.Global, r.run.opts.LockPath, r.Spec, r.Src, r.Version, r.run.logf)
	})
	return r.inputsInfo
}

// InputsOf is head narrowed to app a's inputs (version.Info.Inputs over
// affected.Inputs, read in the directory the pipeline runs in), with the
// directory and pathspecs that name those inputs. A Source outside that
// directory is its own input set (everything under it, which is what the
// stages copy) and keeps head.
func InputsOf(g affected.Global, lockPath string, a AppSpec, src string, head version.Info, logf func(string, ...any)) (version.Info, string, []string) {
	wd, err := os.Getwd()
	if err != nil {
		return head, src, []string{"."}
	}
	rel, err := filepath.Rel(wd, src)
	if err != nil || !filepath.IsLocal(rel) && rel != "." {
		return head, src, []string{"."}
	}
	global := g
	global.Files = append(append([]string{}, global.Files...), lockPath)
	specs, err := affected.Inputs(wd, affected.App{Name: a.Name, Source: filepath.ToSlash(rel), Main: a.Main, Deploy: a.Deploy}, global)
	if err != nil {
		logf("warning: %s: reading its inputs: %v; its image names HEAD", a.Name, err)
		return head, src, []string{"."}
	}
	if head.Commit == "" {
		return head, wd, specs
	}
	return head.Inputs(wd, specs), wd, specs
}

// contentKey is the content of the app's inputs now (version.ContentKey),
// read once per run: "" outside a git checkout.
func (r *App) contentKey() string {
	r.contentOnce.Do(func() {
		r.Inputs()
		if r.Version.Commit == "" {
			return
		}
		k, err := version.ContentKey(r.inputsRoot, r.inputsSpecs)
		if err != nil {
			r.run.logf("warning: %s: %v: stages are not reused", r.Spec.Name, err)
			return
		}
		r.content = k
	})
	return r.content
}

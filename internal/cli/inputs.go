package cli

import (
	"os"
	"path/filepath"

	"github.com/slipway-ci/slipway/internal/affected"
	"github.com/slipway-ci/slipway/internal/version"
)

// inputs is the version the app's image is stamped with: the newest commit
// that changed what the affected-app analysis says the app depends on (its
// main package and manifests, the repository packages it imports, their
// go.mod and go.sum, the image lock, ci/, AlwaysRebuild paths), and whether
// those files are modified now. Its revision label, created time, version
// and -ldflags come from there, so a commit to another app leaves this app's
// image, and its digest, as they were, and its deploy is "unchanged".
// r.version stays the checked-out commit: tags, deploy records and the
// provenance's source name it; the provenance names both.
func (r *runState) inputs() version.Info {
	r.inputsOnce.Do(func() {
		r.inputsInfo = r.version
		if r.version.Commit == "" {
			return
		}
		wd, err := os.Getwd()
		if err != nil {
			return
		}
		rel, err := filepath.Rel(wd, r.src)
		if err != nil || !filepath.IsLocal(rel) && rel != "." {
			return // Source outside the directory the pipeline runs in: HEAD
		}
		global := r.o.proj.Global
		global.Files = append(append([]string{}, global.Files...), r.o.proj.LockPath)
		specs, err := affected.Inputs(wd, affected.App{Name: r.app.Name, Source: filepath.ToSlash(rel), Main: r.app.Main, Deploy: r.app.Deploy}, global)
		if err != nil {
			r.o.logf("warning: %s: reading its inputs: %v; its image names HEAD", r.app.Name, err)
			return
		}
		r.inputsInfo = r.version.Inputs(wd, specs)
	})
	return r.inputsInfo
}

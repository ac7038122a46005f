package cli

import (
	"os"
	"path/filepath"

	"github.com/slipway-ci/slipway/internal/affected"
	"github.com/slipway-ci/slipway/internal/release"
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
		r.inputsInfo, r.inputsRoot, r.inputsSpecs = inputsOf(r.o, r.app, r.Src, r.Version)
	})
	return r.inputsInfo
}

// inputsOf is head narrowed to app a's inputs (version.Info.Inputs over
// affected.Inputs, read in the directory the pipeline runs in), with the
// directory and pathspecs that name those inputs. A Source outside that
// directory is its own input set (everything under it, which is what the
// stages copy) and keeps head.
func inputsOf(o *options, a App, src string, head version.Info) (version.Info, string, []string) {
	wd, err := os.Getwd()
	if err != nil {
		return head, src, []string{"."}
	}
	rel, err := filepath.Rel(wd, src)
	if err != nil || !filepath.IsLocal(rel) && rel != "." {
		return head, src, []string{"."}
	}
	global := o.proj.Global
	global.Files = append(append([]string{}, global.Files...), o.proj.LockPath)
	specs, err := affected.Inputs(wd, affected.App{Name: a.Name, Source: filepath.ToSlash(rel), Main: a.Main, Deploy: a.Deploy}, global)
	if err != nil {
		o.logf("warning: %s: reading its inputs: %v; its image names HEAD", a.Name, err)
		return head, src, []string{"."}
	}
	if head.Commit == "" {
		return head, wd, specs
	}
	return head.Inputs(wd, specs), wd, specs
}

// contentKey is the content of the app's inputs now (version.ContentKey),
// read once per run: "" outside a git checkout.
func (r *runState) contentKey() string {
	r.contentOnce.Do(func() {
		r.inputs()
		if r.Version.Commit == "" {
			return
		}
		k, err := version.ContentKey(r.inputsRoot, r.inputsSpecs)
		if err != nil {
			r.o.logf("warning: %s: %v: stages are not reused", r.app.Name, err)
			return
		}
		r.content = k
	})
	return r.content
}

// inputsCommitAt is the newest commit up to sha that changed the inputs of
// the configured app named app ("" when the configuration has no such app
// or history cannot say; sourceRepo must be the checkout the pipeline runs
// in): what its image's revision label names when the
// pipeline built it from sha.
func (o *options) inputsCommitAt(app, sha, sourceRepo string) string {
	wd, err := os.Getwd()
	if err != nil || version.Root(wd) == "" || version.Root(wd) != version.Root(sourceRepo) {
		return "" // the configuration's paths are not this repository's
	}
	for _, a := range o.proj.Apps {
		if a.Name != app {
			continue
		}
		src, err := sourceDir(a.Source)
		if err != nil {
			return ""
		}
		in, _, _ := inputsOf(o, a, src, version.Info{Commit: sha})
		return in.Commit
	}
	return ""
}

// inputsAtFor is what proves, for push and deploy alike, that an image's
// revision label naming an older commit than its source commit is that
// commit's build (release.Contradicts): the newest commit up to a commit that
// changed the configured app's inputs. It is nil (the label must name the
// commit) when no app is given, when the configuration has no such app, or
// when the source repository is not the checkout the configuration
// describes.
func (o *options) inputsAtFor(app, sourceRepo string) release.InputsAt {
	found := false
	for _, a := range o.proj.Apps {
		found = found || a.Name == app
	}
	if !found {
		return nil
	}
	if wd, err := os.Getwd(); err != nil || version.Root(wd) == "" || version.Root(wd) != version.Root(sourceRepo) {
		return nil
	}
	return func(commit string) string { return o.inputsCommitAt(app, commit, sourceRepo) }
}

// checkLabel is release.CheckLabel with the configured app's inputs, saying
// when an older label stands because none of them changed since.
func (o *options) checkLabel(app, sourceRepo, label, commit string) error {
	via, err := release.CheckLabel(label, commit, o.inputsAtFor(app, sourceRepo))
	if via {
		o.logf("%s: its %s label names %s, the newest commit up to %s that changed %s's inputs", app, release.RevisionLabel, label, version.Short(commit), app)
	}
	return err
}

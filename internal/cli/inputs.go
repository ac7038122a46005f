package cli

import (
	"os"

	"github.com/slipway-ci/slipway/internal/flow"
	"github.com/slipway-ci/slipway/internal/release"
	"github.com/slipway-ci/slipway/internal/version"
)

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
		src, err := flow.SourceDir(a.Source)
		if err != nil {
			return ""
		}
		in, _, _ := flow.InputsOf(o.proj.Global, o.proj.LockPath, a, src, version.Info{Commit: sha}, o.logf)
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

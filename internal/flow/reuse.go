package flow

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/slipway-ci/slipway/internal/dag"
	"github.com/slipway-ci/slipway/internal/ocitar"
	"github.com/slipway-ci/slipway/internal/pipeline"
)

// Fingerprint names everything the app's stage named stage (lint, test,
// build, scan or a custom one) depends on: the content of what that stage
// reads as it is now (committed or not: tracked, modified, untracked and,
// in the package directories, gitignored files, version.ContentKeyOf over
// affected.Sets — lint and test read ./... of the app's Source, build and
// scan its main package's imports), the version its image is stamped with,
// the app's configuration, the image lock, the Go environment that reaches
// the containers (dag.GoEnvPassthrough, the cache namespace), the gate
// settings and the stage list. The engine would answer from its cache for
// the same inputs anyway; a matching fingerprint lets a run skip even the
// round trips (a warm no-change run: milliseconds, no session), on a dirty
// tree as on a clean one.
func (r *App) Fingerprint(stage string) string {
	content := r.contentKey(readsOf(stage))
	if content == "" {
		return ""
	}
	in := r.Inputs()
	h := sha256.New()
	fmt.Fprintf(h, "reads=%s\ncontent=%s\nstamp=%s %s %s\napp=%+v\nlock=%s\n", readsOf(stage), content, in.Revision(), in.Version(), in.CommitTime.UTC().Format(time.RFC3339), r.Spec, r.run.opts.Lock.Bytes())
	env := dag.HostGoEnv(os.Getenv)
	env[dag.CacheNamespaceEnv] = os.Getenv(dag.CacheNamespaceEnv)
	for _, k := range append(append([]string{}, dag.GoEnvPassthrough...), dag.CacheNamespaceEnv) {
		fmt.Fprintf(h, "env %s=%q\n", k, env[k])
	}
	sf := r.run.opts.Scan
	fmt.Fprintf(h, "gate=%s %v %s\n", sf.Severity, sf.IgnoreUnfixed, sf.IgnoreFile)
	for _, s := range r.run.opts.Stages {
		fmt.Fprintf(h, "stage=%s %s %v %v\n", s.Name, s.Builtin, s.Needs, s.Args)
	}
	if data, err := os.ReadFile(ignoreFileOf(r)); err == nil {
		h.Write(data)
	}
	return hex.EncodeToString(h.Sum(nil))[:32]
}

func ignoreFileOf(r *App) string {
	if r.run.opts.Scan.IgnoreFile != "" {
		return r.run.opts.Scan.IgnoreFile
	}
	for _, n := range []string{".trivyignore.yaml", ".trivyignore"} {
		p := r.Src + string(os.PathSeparator) + n
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	return ""
}

// reuse replaces engine stages that already passed on the same inputs with
// stages that only say so, when every engine stage of the run can be reused
// (otherwise the engine is needed anyway and the cached execs are cheap).
// The scan's result is reused only while its DB is within --db-max-age:
// new advisories must be seen.
func (run *Run) reuse(g *pipeline.Graph) (*pipeline.Graph, error) {
	if !g.NeedsEngine() {
		return g, nil
	}
	stages := g.Stages()
	byPrefix := map[string]*App{}
	for _, r := range run.apps {
		byPrefix[r.Prefix] = r
	}
	var reused []string
	for i, s := range stages {
		if !s.Engine {
			continue
		}
		r := byPrefix[s.Name[:strings.LastIndex(s.Name, "/")+1]]
		if r == nil {
			return g, nil
		}
		base := strings.TrimPrefix(s.Name, r.Prefix)
		snap := r.Snapshot()
		prev, ok := snap.Stages[base]
		fp := r.Fingerprint(base)
		if !ok || fp == "" || prev.Status != pipeline.Passed || prev.Fingerprint != fp {
			return g, nil
		}
		switch base {
		case StageBuild:
			a, err := ocitar.Open(r.OutPath("image.tar"))
			if err != nil {
				return g, nil
			}
			d, err := a.Digest()
			a.Close()
			if err != nil || d.String() != snap.Image.Digest {
				return g, nil
			}
		case StageScan:
			// The verdict must be about this image, and fresh: a verdict
			// dated in the future (a skewed clock) is not.
			if snap.Gate == nil {
				return g, nil
			}
			age := time.Since(snap.Gate.Time)
			if snap.Gate.Verdict != pipeline.GatePassed || snap.Gate.Digest != snap.Image.Digest || snap.Image.Digest == "" ||
				age > run.opts.Scan.DBMaxAge || age < -time.Minute {
				return g, nil
			}
		}
		since := prev.Started.Add(time.Duration(prev.Duration))
		stages[i].Engine = false
		stages[i].Description = "reused: passed on the same inputs"
		stages[i].Run = func(_ context.Context, rec *pipeline.Record) error {
			rec.Set("reused", "passed "+since.UTC().Format(time.RFC3339)+" on the same inputs")
			for k, v := range prev.Details {
				rec.Set(k, v)
			}
			for _, a := range prev.Artifacts {
				rec.Artifact(a)
			}
			return nil
		}
		reused = append(reused, s.Name)
	}
	if len(reused) == 0 {
		return g, nil
	}
	run.logf("nothing changed since the last successful run (what each stage reads, configuration, image lock, Go environment and gate are as they were): reusing %s; --force runs them again", strings.Join(reused, ", "))
	out, err := pipeline.NewGraph(stages...)
	if err != nil {
		return nil, err
	}
	return out, nil
}

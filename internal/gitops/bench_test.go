package gitops

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// bigRepo builds a bare GitOps repository with `apps` apps (4 files each:
// base/deployment.yaml and three overlays) and `commits` commits in all, the
// later ones deploy commits with trailers, via git fast-import.
func bigRepo(b testing.TB, apps, commits int) string {
	b.Helper()
	dir := filepath.Join(b.TempDir(), "big.git")
	if out, err := exec.Command("git", "init", "-q", "--bare", "-b", "main", dir).CombinedOutput(); err != nil {
		b.Fatalf("%v %s", err, out)
	}
	cmd := exec.Command("git", "--git-dir", dir, "fast-import", "--quiet")
	stdin, _ := cmd.StdinPipe()
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	w := bufio.NewWriterSize(stdin, 1<<20)
	envs := []string{"development", "staging", "production"}
	ts := int64(1700000000)
	data := func(s string) { fmt.Fprintf(w, "data %d\n%s\n", len(s), s) }
	overlay := func(app string, n int) string {
		return fmt.Sprintf("apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n  - ../../base\n# managed by Slipway\nimages:\n  - name: %s\n    newName: ghcr.io/acme/%s\n    digest: sha256:%064x\n", app, app, n)
	}
	fmt.Fprintf(w, "commit refs/heads/main\ncommitter Seed <s@x> %d +0000\n", ts)
	data("seed")
	for a := 0; a < apps; a++ {
		app := fmt.Sprintf("app%04d", a)
		fmt.Fprintf(w, "M 644 inline %s/base/deployment.yaml\n", app)
		data(fmt.Sprintf("apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: %s\nspec:\n  template:\n    spec:\n      containers:\n        - name: %s\n          image: %s\n", app, app, app))
		for _, e := range envs {
			fmt.Fprintf(w, "M 644 inline %s/overlays/%s/kustomization.yaml\n", app, e)
			data(overlay(app, 0))
		}
	}
	for i := 1; i < commits; i++ {
		app := fmt.Sprintf("app%04d", i%apps)
		e := envs[(i/apps)%3]
		img := fmt.Sprintf("ghcr.io/acme/%s@sha256:%064x", app, i)
		fmt.Fprintf(w, "commit refs/heads/main\ncommitter Slipway <s@x> %d +0000\n", ts+int64(i))
		data(fmt.Sprintf("deploy(%s): %s -> sha256:%012x\n\nImage: %s\nSource-Commit: %040x\nApp: %s\nEnvironment: %s\nPipeline-Run: local\n", app, e, i, img, i, app, e))
		fmt.Fprintf(w, "M 644 inline %s/overlays/%s/kustomization.yaml\n", app, e)
		data(overlay(app, i))
	}
	w.Flush()
	stdin.Close()
	if err := cmd.Wait(); err != nil {
		b.Fatal(err)
	}
	return dir
}

var benchSource = strings.Repeat("c", 40)

// BenchmarkDeployBigRepo: one deploy into 5,000 commits and 2,000 files,
// next to the git CLI doing the same (clone --depth 1, edit, commit, push).
// "hot": the environment was deployed recently (the usual case); "cold": its
// last deploy record is ~1,500 commits back, so the guard must read further.
func BenchmarkDeployBigRepo(b *testing.B) {
	dir := bigRepo(b, 500, 5000)
	r, err := NewRemote(dir, "main", env(nil))
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	n := 1 << 20
	b.Run("slipway-hot", func(b *testing.B) {
		d := &Deployer{Remote: r}
		// Make app0001/development's last deploy recent.
		n++
		if _, err := d.Deploy(ctx, Request{App: "app0001", Env: "development", Image: Image{Repo: "ghcr.io/acme/app0001", Digest: fmt.Sprintf("sha256:%064x", n)}, SourceCommit: benchSource, AllowUnknownSource: true}); err != nil {
			b.Fatal(err)
		}
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			n++
			if _, err := d.Deploy(ctx, Request{App: "app0001", Env: "development", Image: Image{Repo: "ghcr.io/acme/app0001", Digest: fmt.Sprintf("sha256:%064x", n)}, SourceCommit: benchSource, AllowUnknownSource: true}); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("slipway-cold", func(b *testing.B) {
		d := &Deployer{Remote: r}
		for i := 0; i < b.N; i++ {
			n++
			app := fmt.Sprintf("app%04d", 100+i%300)
			if _, err := d.Deploy(ctx, Request{App: app, Env: "production", Image: Image{Repo: "ghcr.io/acme/" + app, Digest: fmt.Sprintf("sha256:%064x", n)}, SourceCommit: benchSource, AllowUnknownSource: true}); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("git-cli", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			n++
			work := filepath.Join(b.TempDir(), "w")
			run := func(args ...string) {
				cmd := exec.Command("git", args...)
				cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=b", "GIT_AUTHOR_EMAIL=b@x", "GIT_COMMITTER_NAME=b", "GIT_COMMITTER_EMAIL=b@x")
				if out, err := cmd.CombinedOutput(); err != nil {
					b.Fatalf("git %v: %v %s", args, err, out)
				}
			}
			run("clone", "-q", "--depth", "1", "--branch", "main", "file://"+dir, work)
			f := filepath.Join(work, "app0002/overlays/development/kustomization.yaml")
			data, _ := os.ReadFile(f)
			lines := strings.Split(string(data), "\n")
			for j, l := range lines {
				if strings.HasPrefix(l, "    digest: ") {
					lines[j] = fmt.Sprintf("    digest: sha256:%064x", n)
				}
			}
			os.WriteFile(f, []byte(strings.Join(lines, "\n")), 0o644)
			run("-C", work, "commit", "-qam", "deploy(app0002): development")
			run("-C", work, "push", "-q", "origin", "main")
		}
	})
}

// BenchmarkConcurrentDeployers: 32 deployers at once into one repository;
// reports wall time per round and push attempts.
func BenchmarkConcurrentDeployers(b *testing.B) {
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		apps := make([]string, 16)
		for j := range apps {
			apps[j] = fmt.Sprintf("c%02d", j)
		}
		dir, r := localGitOps(b, apps...)
		b.StartTimer()
		var wg sync.WaitGroup
		var attempts, failures atomic.Int64
		start := time.Now()
		for j := 0; j < 32; j++ {
			wg.Add(1)
			go func(j int) {
				defer wg.Done()
				app := apps[j%16]
				if j >= 16 {
					app = "sample-app"
				}
				out, err := (&Deployer{Remote: r}).Deploy(context.Background(), Request{App: app, Env: "development", Image: digest(5000 + j), SourceCommit: benchSource, AllowUnknownSource: true})
				if err != nil {
					failures.Add(1)
					return
				}
				attempts.Add(int64(out.Attempts))
			}(j)
		}
		wg.Wait()
		b.StopTimer()
		if failures.Load() > 0 {
			b.Fatalf("%d of 32 deploys failed", failures.Load())
		}
		b.ReportMetric(float64(attempts.Load()-32), "retries/round")
		b.ReportMetric(time.Since(start).Seconds(), "s/round")
		_ = dir
		b.StartTimer()
	}
}

// BenchmarkHistory10k reads 10,000 deploy commits (target: under 1 s).
func BenchmarkHistory10k(b *testing.B) {
	dir := bigRepo(b, 100, 10001)
	r, err := NewRemote(dir, "main", env(nil))
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		recs, err := History(context.Background(), r, Filter{})
		if err != nil {
			b.Fatal(err)
		}
		if len(recs) != 10000 {
			b.Fatalf("%d records", len(recs))
		}
	}
}

package gitops

import (
	"bufio"
	"context"
	"fmt"
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
	return bigRepoSized(b, apps, commits, 0)
}

// bigRepoSized is bigRepo where the last app's production kustomization
// is padded to bigBytes (another team's multi-megabyte manifest).
func bigRepoSized(b testing.TB, apps, commits, bigBytes int) string {
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
	var pad string
	if bigBytes > 0 {
		var b strings.Builder
		for b.Len() < bigBytes {
			fmt.Fprintf(&b, "# generated padding line %09d of a very large kustomization owned by another team\n", b.Len())
		}
		pad = b.String()
	}
	// The last app's production kustomization stays big in every version.
	padding := func(a int, e string) string {
		if a == apps-1 && e == "production" {
			return pad
		}
		return ""
	}
	fmt.Fprintf(w, "commit refs/heads/main\ncommitter Seed <s@x> %d +0000\n", ts)
	data("seed")
	for a := 0; a < apps; a++ {
		app := fmt.Sprintf("app%04d", a)
		fmt.Fprintf(w, "M 644 inline %s/base/deployment.yaml\n", app)
		data(fmt.Sprintf("apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: %s\nspec:\n  template:\n    spec:\n      containers:\n        - name: %s\n          image: %s\n", app, app, app))
		fmt.Fprintf(w, "M 644 inline %s/base/kustomization.yaml\n", app)
		data("resources:\n  - deployment.yaml\n")
		for _, e := range envs {
			fmt.Fprintf(w, "M 644 inline %s/overlays/%s/kustomization.yaml\n", app, e)
			data(overlay(app, 0) + padding(a, e))
		}
	}
	for i := 1; i < commits; i++ {
		app := fmt.Sprintf("app%04d", i%apps)
		e := envs[(i/apps)%3]
		img := fmt.Sprintf("ghcr.io/acme/%s@sha256:%064x", app, i)
		fmt.Fprintf(w, "commit refs/heads/main\ncommitter Slipway <s@x> %d +0000\n", ts+int64(i))
		data(fmt.Sprintf("deploy(%s): %s -> sha256:%012x\n\nImage: %s\nSource-Commit: %040x\nApp: %s\nEnvironment: %s\nPipeline-Run: local\n", app, e, i, img, i, app, e))
		fmt.Fprintf(w, "M 644 inline %s/overlays/%s/kustomization.yaml\n", app, e)
		data(overlay(app, i) + padding(i%apps, e))
	}
	w.Flush()
	stdin.Close()
	if err := cmd.Wait(); err != nil {
		b.Fatal(err)
	}
	// Served with object filters (partial clone, uploadpack.allowFilter) and
	// wants by object id.
	for _, kv := range [][2]string{{"uploadpack.allowFilter", "true"}, {"uploadpack.allowAnySHA1InWant", "true"}} {
		if out, err := exec.Command("git", "--git-dir", dir, "config", kv[0], kv[1]).CombinedOutput(); err != nil {
			b.Fatalf("%v %s", err, out)
		}
	}
	return dir
}

var benchSource = strings.Repeat("c", 40)

// BenchmarkDeployBigRepo: one deploy (clone, guard, byte-exact edit, the
// kustomize render proof before and after, commit, push) into a repository
// of 200 apps and 5,000 commits, without and with another app's 11 MB
// kustomization: the cost must not depend on files the deploy does not
// read. The environment was deployed recently (the usual case).
func BenchmarkDeployBigRepo(b *testing.B) {
	for _, c := range []struct {
		name     string
		big      int
		noFilter bool // a server without object filters: a whole clone
	}{{"200apps", 0, false}, {"200apps+11MB", 11 << 20, false}, {"200apps+11MB/no-filter", 11 << 20, true}} {
		b.Run(c.name, func(b *testing.B) {
			dir := bigRepoSized(b, 200, 5000, c.big)
			repo, getenv := dir, env(nil)
			if c.noFilter {
				// Over smart HTTP, where the repository's configuration
				// decides (a local path is always served with filters).
				for _, kv := range [][2]string{{"uploadpack.allowFilter", "false"}, {"http.receivepack", "true"}} {
					if out, err := exec.Command("git", "--git-dir", dir, "config", kv[0], kv[1]).CombinedOutput(); err != nil {
						b.Fatalf("%v %s", err, out)
					}
				}
				repo, getenv = smartHTTP(b, filepath.Dir(dir))+"/"+filepath.Base(dir), env(map[string]string{"GITOPS_TOKEN": gitToken})
			}
			r, err := NewRemote(repo, "main", getenv)
			if err != nil {
				b.Fatal(err)
			}
			ctx := context.Background()
			d := &Deployer{Remote: r}
			n := 1 << 20
			deploy := func() {
				n++
				out, err := d.Deploy(ctx, Request{App: "app0001", Env: "development", Image: Image{Repo: "ghcr.io/acme/app0001", Digest: fmt.Sprintf("sha256:%064x", n)}, SourceCommit: benchSource, AllowUnknownSource: true})
				if err != nil {
					b.Fatal(err)
				}
				if out.Rendered == nil || out.Rendered.Unproven != "" || len(out.Rendered.Workloads) != 1 {
					b.Fatalf("not proven by a render: %+v", out.Rendered)
				}
			}
			deploy() // warm: the environment's last deploy is recent
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				deploy()
			}
		})
	}
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

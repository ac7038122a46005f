package gitops

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"github.com/go-git/go-billy/v5/memfs"
	"github.com/go-git/go-billy/v5/util"
	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/storage/memory"
)

// EnsureLocal creates the embedded default GitOps repository: a bare
// repository at dir whose branch holds APP/base and APP/overlays/* copied
// from deployDir (an app's kustomize base and overlays). It returns whether
// it created the repository; an existing one is left alone.
func EnsureLocal(dir, deployDir, app, branch string, now time.Time) (bool, error) {
	return EnsureLocalApps(dir, []SeedApp{{Name: app, DeployDir: deployDir}}, branch, now)
}

// SeedApp is one app of the embedded GitOps repository: its name and the
// directory holding its kustomize base/ and overlays/.
type SeedApp struct {
	Name      string
	DeployDir string
}

// EnsureLocalApps is EnsureLocal for several apps (a monorepo): each app's
// base/ and overlays/ go under APP/ in one seed commit.
func EnsureLocalApps(dir string, apps []SeedApp, branch string, now time.Time) (bool, error) {
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		return false, err
	}
	// Mkdir is the lock: of several pipelines starting at once, one seeds.
	if err := os.Mkdir(dir, 0o755); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return false, waitForBranch(dir, branch)
		}
		return false, fmt.Errorf("create %s: %w", dir, err)
	}
	if err := seed(dir, apps, branch, now); err != nil {
		os.RemoveAll(dir)
		return false, fmt.Errorf("seed %s: %w", dir, err)
	}
	return true, nil
}

func waitForBranch(dir, branch string) error {
	deadline := time.Now().Add(10 * time.Second)
	for {
		if repo, err := git.PlainOpen(dir); err == nil {
			if _, err := repo.Reference(plumbing.NewBranchReferenceName(branch), false); err == nil {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s exists but has no branch %q (delete it to re-create the local GitOps repository)", dir, branch)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func seed(dir string, apps []SeedApp, branch string, now time.Time) error {
	bare, err := git.PlainInitWithOptions(dir, &git.PlainInitOptions{
		Bare:        true,
		InitOptions: git.InitOptions{DefaultBranch: plumbing.NewBranchReferenceName(branch)},
	})
	if err != nil {
		return err
	}
	_ = bare
	wfs := memfs.New()
	repo, err := git.Init(memory.NewStorage(), wfs)
	if err != nil {
		return err
	}
	var names []string
	for _, a := range apps {
		copied := 0
		for _, sub := range []string{"base", "overlays"} {
			root := filepath.Join(a.DeployDir, sub)
			if _, err := os.Stat(root); errors.Is(err, fs.ErrNotExist) {
				continue // the other one may hold the files; none at all is reported below
			}
			err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
				if err != nil || d.IsDir() {
					return err
				}
				rel, _ := filepath.Rel(a.DeployDir, p)
				data, err := os.ReadFile(p)
				if err != nil {
					return err
				}
				copied++
				return util.WriteFile(wfs, path.Join(a.Name, filepath.ToSlash(rel)), data, 0o644)
			})
			if err != nil {
				return fmt.Errorf("%s: %w", a.Name, err)
			}
		}
		if copied == 0 {
			return fmt.Errorf("app %s: no base/ or overlays/ files in %s (its Deploy directory)", a.Name, a.DeployDir)
		}
		names = append(names, a.Name)
	}
	app := strings.Join(names, ", ")
	readme := fmt.Sprintf("# GitOps repository (local)\n\nCreated by Slipway. Argo CD reads APP/overlays/<env> for %s;\n`go run ./ci deploy` commits image digests here and `go run ./ci history` reads them back.\n", app)
	if err := util.WriteFile(wfs, "README.md", []byte(readme), 0o644); err != nil {
		return err
	}
	wt, err := repo.Worktree()
	if err != nil {
		return err
	}
	if err := wt.AddGlob("."); err != nil {
		return err
	}
	sig := &object.Signature{Name: "Slipway", Email: "slipway@noreply.invalid", When: now}
	h, err := wt.Commit("chore: seed "+app+" manifests", &git.CommitOptions{Author: sig, Committer: sig})
	if err != nil {
		return err
	}
	if _, err := repo.CreateRemote(&config.RemoteConfig{Name: "origin", URLs: []string{dir}}); err != nil {
		return err
	}
	return repo.Push(&git.PushOptions{RefSpecs: []config.RefSpec{config.RefSpec(h.String() + ":refs/heads/" + branch)}})
}

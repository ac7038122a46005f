package version

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func gitCmd(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", append([]string{"-C", dir}, args...)...)
	cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=d", "GIT_AUTHOR_EMAIL=d@x", "GIT_COMMITTER_NAME=d", "GIT_COMMITTER_EMAIL=d@x",
		"GIT_COMMITTER_DATE=2026-11-20T09:30:00Z", "GIT_AUTHOR_DATE=2026-11-20T09:00:00Z")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git %v: %v %s", args, err, out)
	}
	return strings.TrimSpace(string(out))
}

func clearCI(t *testing.T) {
	for _, k := range []string{"GITHUB_HEAD_REF", "GITHUB_REF_NAME", "BRANCH_NAME", "CI_COMMIT_REF_NAME", "GITHUB_REPOSITORY", "SOURCE_DATE_EPOCH"} {
		t.Setenv(k, "")
	}
}

func TestDetect(t *testing.T) {
	clearCI(t)
	dir := t.TempDir()
	gitCmd(t, dir, "init", "-q", "-b", "feature/Login-Fix")
	os.WriteFile(filepath.Join(dir, "a"), []byte("1"), 0o644)
	gitCmd(t, dir, "add", "a")
	gitCmd(t, dir, "commit", "-qm", "one")
	first := gitCmd(t, dir, "rev-parse", "HEAD")
	gitCmd(t, dir, "remote", "add", "origin", "https://bot:tok123@github.com/acme/payments.git")
	os.MkdirAll(filepath.Join(dir, "app"), 0o755)

	info, err := Detect(filepath.Join(dir, "app"))
	if err != nil {
		t.Fatal(err)
	}
	if info.Commit != first || info.Branch != "feature/Login-Fix" || info.Semver != "" || info.Dirty {
		t.Errorf("info %+v", info)
	}
	if !info.CommitTime.Equal(time.Date(2026, 11, 20, 9, 30, 0, 0, time.UTC)) {
		t.Errorf("commit time %v, want the committer time", info.CommitTime)
	}
	if info.RepoURL != "https://github.com/acme/payments" {
		t.Errorf("repo URL %q (credentials must be stripped)", info.RepoURL)
	}
	tags := info.Tags()
	if len(tags) != 2 || tags[0] != first || tags[1] != "feature-Login-Fix-"+first[:12] {
		t.Errorf("tags %v", tags)
	}
	gitCmd(t, dir, "tag", "-a", "v1.4.2", "-m", "release")
	gitCmd(t, dir, "tag", "not-semver")
	os.WriteFile(filepath.Join(dir, "a"), []byte("2"), 0o644)
	info, _ = Detect(dir)
	// Issue 12.6: a modified tree is marked everywhere; no semver tag for it.
	if info.Semver != "v1.4.2" || info.Version() != "v1.4.2-dirty" || !info.Dirty {
		t.Errorf("tagged, dirty: %+v %v", info, info.Tags())
	}
	if tags := info.Tags(); len(tags) != 2 || tags[0] != first+"-dirty" || tags[1] != "feature-Login-Fix-"+first[:12]+"-dirty" {
		t.Errorf("dirty tags %v", tags)
	}
	l := info.Labels()
	if l["org.opencontainers.image.revision"] != first+"-dirty" || l["org.opencontainers.image.created"] != "2026-11-20T09:30:00Z" || l["org.opencontainers.image.version"] != "v1.4.2-dirty" {
		t.Errorf("labels %v", l)
	}
	gitCmd(t, dir, "checkout", "-q", "a")
	info, _ = Detect(dir)
	if info.Dirty || info.Version() != "v1.4.2" || info.Tags()[2] != "v1.4.2" || info.Labels()["org.opencontainers.image.revision"] != first {
		t.Errorf("tagged, clean: %+v %v", info, info.Tags())
	}
	// An untracked file makes the tree dirty too.
	os.WriteFile(filepath.Join(dir, "new.go"), []byte("package x"), 0o644)
	if info, _ = Detect(dir); !info.Dirty {
		t.Error("untracked file: not dirty")
	}
	os.Remove(filepath.Join(dir, "new.go"))
	for _, tag := range info.Tags() {
		if tag == "latest" {
			t.Error("latest is never a default tag")
		}
	}
}

func TestDetectOutsideGit(t *testing.T) {
	clearCI(t)
	t.Setenv("SOURCE_DATE_EPOCH", "1700000000")
	t.Setenv("GITHUB_REF_NAME", "main")
	info, err := Detect(t.TempDir())
	if !errors.Is(err, ErrNoRepo) {
		t.Fatalf("err %v", err)
	}
	if info.CommitTime.Unix() != 1700000000 || info.Branch != "main" || info.Tags() != nil || info.Version() != "dev" {
		t.Errorf("info %+v", info)
	}
}

func TestCompare(t *testing.T) {
	dir := t.TempDir()
	gitCmd(t, dir, "init", "-q", "-b", "main")
	var shas []string
	for i := 0; i < 3; i++ {
		os.WriteFile(filepath.Join(dir, "a"), []byte{byte('0' + i)}, 0o644)
		gitCmd(t, dir, "add", "a")
		gitCmd(t, dir, "commit", "-qm", "c")
		shas = append(shas, gitCmd(t, dir, "rev-parse", "HEAD"))
	}
	gitCmd(t, dir, "checkout", "-q", "-b", "side", shas[1])
	os.WriteFile(filepath.Join(dir, "b"), []byte("x"), 0o644)
	gitCmd(t, dir, "add", "b")
	gitCmd(t, dir, "commit", "-qm", "side")
	side := gitCmd(t, dir, "rev-parse", "HEAD")
	cases := []struct {
		a, b string
		want Relation
	}{
		{shas[0], shas[2], Relation{Older, 2}},
		{shas[2], shas[0], Relation{Newer, 0}},
		{shas[1], shas[1], Relation{Same, 0}},
		{side, shas[2], Relation{Diverged, 1}},
		{shas[2], side, Relation{Diverged, 1}},
		{strings.Repeat("f", 40), shas[2], Relation{}},
	}
	for _, c := range cases {
		got, err := Compare(dir, c.a, c.b)
		if err != nil || got != c.want {
			t.Errorf("Compare(%s, %s) = %v %v, want %v", c.a[:7], c.b[:7], got, err, c.want)
		}
	}
}

func TestPublicURL(t *testing.T) {
	cases := map[string]string{
		"https://user:pass@github.com/a/b.git": "https://github.com/a/b",
		"git@github.com:a/b.git":               "https://github.com/a/b",
		"ssh://git@gitlab.com/a/b":             "https://gitlab.com/a/b",
		"ssh://git@gitlab.com:2222/a/b.git":    "https://gitlab.com/a/b",
		"https://u:p/ss@github.com/a/b.git":    "https://github.com/a/b",
		"/srv/git/b.git":                       "", // issue 12.22: never a local path in a label
		"file:///srv/git/b.git":                "",
		"../b":                                 "",
	}
	for in, want := range cases {
		if got := PublicURL(in); got != want {
			t.Errorf("PublicURL(%q) = %q, want %q", in, got, want)
		}
	}
}

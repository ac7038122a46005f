package version

import (
	"os"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Inputs is the version of what pathspecs cover (an app's inputs, from
// affected.Inputs), read from the checkout at dir whose HEAD is i: the newest
// commit up to HEAD that changed a file they match, its commit time, its
// semver tag, and whether any file they match is modified or untracked now.
// Branch and RepoURL stay the checkout's. An app built from this Info is a
// function of its inputs: a commit elsewhere in the repository leaves its
// revision, created time and version, and so its digest, as they were.
//
// Where history cannot answer (no git CLI, no commit, a shallow clone whose
// boundary hides the last change), the checkout's own Info is returned: the
// image then names HEAD, as a build of the whole checkout would.
func (i Info) Inputs(dir string, pathspecs []string) Info {
	if i.Commit == "" || len(pathspecs) == 0 || !haveGit() {
		return i
	}
	args := append([]string{"log", "-1", "--format=%H %ct", i.Commit, "--"}, pathspecs...)
	out, err := gitCLI(dir, args...)
	if err != nil {
		return i
	}
	sha, ts, ok := strings.Cut(strings.TrimSpace(out), " ")
	sec, perr := strconv.ParseInt(ts, 10, 64)
	if !ok || perr != nil || len(sha) != 40 || isShallowBoundary(dir, sha) {
		return i
	}
	in := i
	in.Commit, in.CommitTime, in.Semver = sha, time.Unix(sec, 0).UTC(), ""
	if sha == i.Commit {
		in.Semver = i.Semver
	} else if tags, err := gitCLI(dir, "tag", "--points-at", sha); err == nil {
		var found []string
		for _, t := range strings.Fields(tags) {
			if semverRE.MatchString(t) {
				found = append(found, t)
			}
		}
		sort.Strings(found)
		if len(found) > 0 {
			in.Semver = found[len(found)-1]
		}
	}
	if i.Dirty {
		// Dirty somewhere: is it in these inputs?
		st, err := gitCLI(dir, append([]string{"status", "--porcelain", "--untracked-files=normal", "--"}, pathspecs...)...)
		in.Dirty = err != nil || strings.TrimSpace(st) != ""
	}
	return in
}

// isShallowBoundary reports whether sha is a commit whose parents a shallow
// clone does not have: `git log -- paths` reports every file as added there,
// so it is not evidence of the last change.
func isShallowBoundary(dir, sha string) bool {
	p, err := gitCLI(dir, "rev-parse", "--git-path", "shallow")
	if err != nil {
		return false
	}
	p = strings.TrimSpace(p)
	if !strings.HasPrefix(p, "/") {
		p = dir + "/" + p
	}
	data, err := os.ReadFile(p)
	if err != nil {
		return false // not shallow
	}
	return strings.Contains(string(data), sha)
}

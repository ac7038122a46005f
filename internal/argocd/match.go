package argocd

import (
	"path"
	"strings"
)

// NormalizeRepo reduces a repository URL to what names the repository:
// no scheme, credentials, ".git" or trailing slash, lowercase host and path
// (as Argo CD compares them), scp-style "git@host:org/repo" as
// "host/org/repo", an SSH port dropped. A local path and its file:// URL
// are the same repository.
func NormalizeRepo(u string) string {
	s := strings.TrimSpace(u)
	scheme := ""
	if i := strings.Index(s, "://"); i >= 0 {
		scheme, s = strings.ToLower(s[:i]), s[i+3:]
	} else if i := strings.Index(s, ":"); i > 0 && !strings.HasPrefix(s, "/") && !strings.Contains(s[:i], "/") {
		// scp-like: [user@]host:path
		scheme = "ssh"
		s = s[:i] + "/" + strings.TrimPrefix(s[i+1:], "/")
	}
	if scheme != "file" && scheme != "" {
		host, rest, _ := strings.Cut(s, "/")
		if at := strings.LastIndex(host, "@"); at >= 0 {
			host = host[at+1:]
		}
		if scheme == "ssh" {
			if h, _, ok := strings.Cut(host, ":"); ok {
				host = h
			}
		}
		s = host + "/" + rest
	}
	s = strings.TrimRight(s, "/")
	s = strings.TrimSuffix(s, ".git")
	s = strings.TrimRight(s, "/")
	if scheme == "file" || scheme == "" {
		s = path.Clean(s)
	}
	return strings.ToLower(s)
}

// tracks reports whether src deploys file (a path in the repository) of
// repo at branch: same repository, a source path that is the file's
// directory or one of its parents, and a target revision that follows the
// branch. It returns the source path's depth for picking the closest
// Application, and, for a source of the right repository and path that
// follows another revision, why it does not count.
func tracks(src Source, repo, branch, file string) (depth int, ok bool, why string) {
	if src.Chart != "" || NormalizeRepo(src.RepoURL) != NormalizeRepo(repo) {
		return 0, false, ""
	}
	dir := path.Dir(path.Clean(file))
	sp := path.Clean(strings.Trim(src.Path, "/"))
	if sp == "" {
		sp = "."
	}
	switch {
	case sp == ".":
		depth = 0
	case sp == dir || strings.HasPrefix(dir, sp+"/"):
		depth = strings.Count(sp, "/") + 1
	default:
		return 0, false, ""
	}
	switch rev := strings.TrimPrefix(src.TargetRevision, "refs/heads/"); rev {
	case "", "HEAD", branch:
		return depth, true, ""
	default:
		return depth, false, "follows revision " + src.TargetRevision + ", not branch " + branch
	}
}

// matchSource is the index of the Application's source that deploys file,
// or -1.
func (a *Application) matchSource(repo, branch, file string) (idx, depth int, why string) {
	idx = -1
	for i, s := range a.sources() {
		d, ok, w := tracks(s, repo, branch, file)
		if ok && (idx < 0 || d > depth) {
			idx, depth = i, d
		}
		if !ok && w != "" && why == "" {
			why = w
		}
	}
	return idx, depth, why
}

// describeSources says what an Application deploys, for an error.
func (a *Application) describeSources() string {
	var parts []string
	for _, s := range a.sources() {
		p := s.Path
		if p == "" {
			p = "."
		}
		if s.Chart != "" {
			p = "chart " + s.Chart
		}
		rev := s.TargetRevision
		if rev == "" {
			rev = "HEAD"
		}
		parts = append(parts, s.RepoURL+" path "+p+" at "+rev)
	}
	if len(parts) == 0 {
		return "no source"
	}
	return strings.Join(parts, "; ")
}

package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/slipway-ci/slipway/internal/dag"
	"github.com/slipway-ci/slipway/internal/registry"
)

// genProject is a generated pipeline configuration: one to four apps on
// ghcr.io, another registry or none, custom stages with and without
// secrets, publish-only or not, needing any earlier stage, a GitOps
// repository or none, any publishing branch and GitHub environment.
func genProject(r *rand.Rand) Project {
	p := testProject()
	p.Apps = nil
	images := []string{"", "ghcr.io/acme/svc/%s", "registry.acme.io/team/%s", "127.0.0.1:5000/acme/%s", "123456789012.dkr.ecr.eu-west-1.amazonaws.com/%s"}
	for i, n := 0, 1+r.Intn(4); i < n; i++ {
		name := fmt.Sprintf("app%d", i)
		img := images[r.Intn(len(images))]
		if img != "" {
			img = fmt.Sprintf(img, name)
		}
		p.Apps = append(p.Apps, App{Name: name, Source: "../../sample-app", Image: img})
	}
	p.Stages = DefaultStages()
	secretSets := [][]string{nil, nil, {"DB_PASSWORD"}, {"API_TOKEN", "SMOKE_KEY"}}
	for i, n := 0, r.Intn(4); i < n; i++ {
		s := StageSpec{Name: fmt.Sprintf("custom%d", i), Secrets: secretSets[r.Intn(len(secretSets))], Publish: r.Intn(3) == 0, Host: r.Intn(2) == 0,
			Run: func(context.Context, dag.StageEnv) error { return nil }}
		for _, prev := range p.Stages {
			if r.Intn(4) == 0 {
				s.Needs = append(s.Needs, prev.Name)
			}
		}
		p.Stages = append(p.Stages, s)
	}
	if r.Intn(2) == 0 {
		p.GitOpsRepo = "https://git.acme.io/platform/gitops.git"
	}
	p.Wrappers.Branch = []string{"", "main", "release"}[r.Intn(3)]
	p.Wrappers.Environment = []string{"", "production"}[r.Intn(2)]
	if p.Wrappers.Environment == "" && r.Intn(3) == 0 {
		p.Wrappers.NoEnvironment = true
	}
	if r.Intn(2) == 0 {
		p.Wrappers.TestCommands = []string{"make test"}
	}
	p.Wrappers.CacheRepo = []string{"", "", "registry.acme.io/team/cache", "quay.io/acme/cache"}[r.Intn(4)]
	return p
}

// ciHosts are the registries a generated workflow pushes to: the apps'
// (ghcr.io for an app without App.Image) and the engine cache's.
func ciHosts(p Project) (hosts []string, cloud string) {
	hs, unset, _ := p.registries()
	if len(unset) > 0 {
		hs = append(hs, ghcr)
	}
	cache := ghcr
	if p.Wrappers.CacheRepo != "" {
		cache = strings.SplitN(p.Wrappers.CacheRepo, "/", 2)[0]
	}
	seen := map[string]bool{}
	for _, h := range append(hs, cache) {
		if !seen[h] {
			seen[h] = true
			hosts = append(hosts, h)
			if c := registry.CloudRegistry(h); c != "" {
				cloud = h
			}
		}
	}
	return hosts, cloud
}

// excludesPullRequests reports whether a job's `if:` can only hold on a
// push: a conjunction (no ||) with an event_name == 'push' or a
// refs/heads/ ref test. Anything else counts as reachable.
func excludesPullRequests(cond string) bool {
	cond = strings.TrimSuffix(strings.TrimPrefix(strings.TrimSpace(cond), "${{"), "}}")
	if cond == "" || strings.Contains(cond, "||") {
		return false
	}
	for _, c := range strings.Split(cond, "&&") {
		c = strings.TrimSpace(c)
		if c == "github.event_name == 'push'" || regexp.MustCompile(`^github\.ref == 'refs/heads/[^']+'$`).MatchString(c) {
			return true
		}
	}
	return false
}

// prPrivileges parses a workflow and lists every way a job that a pull
// request triggers can read a secret or write anything.
func prPrivileges(t *testing.T, data string) []string {
	t.Helper()
	var wf map[string]any
	if err := yaml.Unmarshal([]byte(data), &wf); err != nil {
		t.Fatalf("workflow does not parse: %v", err)
	}
	on := wf["on"]
	if on == nil {
		on = wf["true"] // YAML 1.1 reads a bare on as true
	}
	onJSON, _ := json.Marshal(on)
	if !strings.Contains(string(onJSON), "pull_request") {
		return nil
	}
	var problems []string
	if env, ok := wf["env"]; ok {
		if b, _ := json.Marshal(env); strings.Contains(string(b), "secrets.") {
			problems = append(problems, "workflow-level env reads a secret")
		}
	}
	jobs, _ := wf["jobs"].(map[string]any)
	memo := map[string]bool{}
	var reachable func(name string) bool
	reachable = func(name string) bool {
		if v, ok := memo[name]; ok {
			return v
		}
		memo[name] = true
		job, _ := jobs[name].(map[string]any)
		cond, _ := job["if"].(string)
		v := !excludesPullRequests(cond)
		var needs []string
		switch n := job["needs"].(type) {
		case string:
			needs = []string{n}
		case []any:
			for _, x := range n {
				needs = append(needs, fmt.Sprint(x))
			}
		}
		for _, n := range needs {
			v = v && reachable(n)
		}
		memo[name] = v
		return v
	}
	for name, j := range jobs {
		if !reachable(name) {
			continue
		}
		job, _ := j.(map[string]any)
		text, _ := json.Marshal(job)
		for _, leak := range []string{"secrets.", "github.token", "secrets:"} {
			if strings.Contains(string(text), leak) {
				problems = append(problems, fmt.Sprintf("job %s (runs on pull requests) reads %s", name, leak))
			}
		}
		if _, ok := job["environment"]; ok {
			problems = append(problems, fmt.Sprintf("job %s (runs on pull requests) has an environment (its secrets)", name))
		}
		perms, ok := job["permissions"]
		if !ok {
			perms = wf["permissions"]
		}
		switch pv := perms.(type) {
		case nil:
			problems = append(problems, fmt.Sprintf("job %s (runs on pull requests) has the default token permissions", name))
		case string:
			if pv != "read-all" && pv != "{}" {
				problems = append(problems, fmt.Sprintf("job %s (runs on pull requests) has permissions %q", name, pv))
			}
		case map[string]any:
			for k, v := range pv {
				if v != "read" && v != "none" || k == "id-token" {
					problems = append(problems, fmt.Sprintf("job %s (runs on pull requests) has %s: %v", name, k, v))
				}
			}
		}
	}
	return problems
}

// gnode is a block of a Jenkinsfile: its head (stage('push'), when, not,
// withCredentials([...])), the statements directly in it and its blocks.
type gnode struct {
	head     string
	text     string
	children []*gnode
	parent   *gnode
}

// parseGroovy reads the block structure of a declarative Jenkinsfile,
// skipping quoted strings and // comments.
func parseGroovy(t *testing.T, s string) *gnode {
	t.Helper()
	root := &gnode{head: "<file>"}
	cur := root
	var seg strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '/' && i+1 < len(s) && s[i+1] == '/':
			for i < len(s) && s[i] != '\n' {
				i++
			}
			seg.WriteByte('\n')
		case c == '\'' || c == '"':
			j := i + 1
			for j < len(s) && s[j] != c {
				if s[j] == '\\' {
					j++
				}
				j++
			}
			seg.WriteString(s[i:min(j+1, len(s))])
			i = j
		case c == '{':
			text := seg.String()
			seg.Reset()
			cut := strings.LastIndexAny(strings.TrimRight(text, " \t"), "\n;")
			// withCredentials([a,\n b]) spans lines: a head runs from the last
			// line that does not continue an open bracket.
			if open := strings.LastIndex(text, "(["); open >= 0 && open < len(text) && cut > open {
				cut = strings.LastIndexAny(text[:open], "\n;")
			}
			n := &gnode{head: strings.TrimSpace(text[cut+1:]), parent: cur}
			cur.text += text[:cut+1]
			cur.children = append(cur.children, n)
			cur = n
		case c == '}':
			cur.text += seg.String()
			seg.Reset()
			if cur.parent == nil {
				t.Fatalf("unbalanced } at byte %d", i)
			}
			cur = cur.parent
		default:
			seg.WriteByte(c)
		}
	}
	if cur != root {
		t.Fatalf("unclosed block %q", cur.head)
	}
	return root
}

func (n *gnode) all() string {
	var b strings.Builder
	b.WriteString(n.head + "\n" + n.text)
	for _, c := range n.children {
		b.WriteString("\n" + c.all())
	}
	return b.String()
}

func (n *gnode) walk(f func(*gnode)) {
	f(n)
	for _, c := range n.children {
		c.walk(f)
	}
}

// guarded reports whether a stage (or a stage around it) runs only on the
// branch and never for a change request.
func guarded(n *gnode, branch string) bool {
	for s := n; s != nil; s = s.parent {
		if !strings.HasPrefix(s.head, "stage(") {
			continue
		}
		for _, c := range s.children {
			if c.head != "when" {
				continue
			}
			w := c.all()
			notCR := false
			c.walk(func(x *gnode) {
				if x.head == "not" && strings.Contains(x.text, "changeRequest()") {
					notCR = true
				}
			})
			if !strings.Contains(w, "anyOf") && strings.Contains(w, "branch '"+branch+"'") && notCR {
				return true
			}
		}
	}
	return false
}

// changeRequestPrivileges lists every Jenkins stage a change request runs
// that binds a credential or publishes.
func changeRequestPrivileges(t *testing.T, data, branch string) []string {
	root := parseGroovy(t, data)
	var problems []string
	root.walk(func(n *gnode) {
		if n.head == "environment" && strings.Contains(n.text, "credentials(") {
			problems = append(problems, "an environment block binds credentials")
		}
		if strings.HasPrefix(n.head, "withCredentials") && !guarded(n, branch) {
			problems = append(problems, "withCredentials outside a branch-only, no-change-request stage: "+n.head)
		}
		if !strings.HasPrefix(n.head, "stage(") {
			return
		}
		for _, c := range n.children {
			if c.head == "steps" && (strings.Contains(c.all(), "run push") || strings.Contains(c.all(), "run deploy")) && !guarded(n, branch) {
				problems = append(problems, "a publish stage runs for change requests: "+n.head)
			}
		}
	})
	return problems
}

// TestGeneratedCIGivesPullRequestsNoPrivilege is issue 17 item 2 as a
// property: over generated configurations, no job of the workflow a pull
// request reaches, and no Jenkins stage a change request runs, can read a
// secret, write anything or get an OIDC token. The publish job exists,
// needs verify, runs on pushes to the branch only and holds what
// publishing needs. (Before the fix, the one pipeline job held every
// secret on pull_request too.)
func TestGeneratedCIGivesPullRequestsNoPrivilege(t *testing.T) {
	seed := int64(1702)
	r := rand.New(rand.NewSource(seed))
	actionlint, _ := exec.LookPath("actionlint")
	for i := 0; i < 150; i++ {
		p := genProject(r)
		branch := p.Wrappers.withDefaults().Branch
		hosts, cloud := ciHosts(p)
		data, err := GenerateGitHubActions(p)
		if cloud != "" {
			// ECR, GAR, ACR: no static pair can work; refused, one line.
			if err == nil || !strings.Contains(err.Error(), cloud) || strings.Contains(err.Error(), "\n") {
				t.Fatalf("seed %d config %d: a workflow for %s: %v", seed, i, cloud, err)
			}
		} else if err != nil {
			t.Fatalf("seed %d config %d: %v", seed, i, err)
		}
		if problems := prPrivileges(t, data); err == nil && len(problems) > 0 {
			t.Fatalf("seed %d config %d: %s\n%s", seed, i, strings.Join(problems, "\n"), data)
		}
		var wf struct {
			Jobs map[string]struct {
				Needs       any               `json:"needs"`
				If          string            `json:"if"`
				Environment string            `json:"environment"`
				Permissions map[string]string `json:"permissions"`
				Steps       []struct {
					Run string            `json:"run"`
					Env map[string]string `json:"env"`
				} `json:"steps"`
			} `json:"jobs"`
		}
		if err := yaml.Unmarshal([]byte(data), &wf); err != nil {
			t.Fatal(err)
		}
		pub, ok := wf.Jobs["publish"]
		usesGHCR := false
		for _, h := range hosts {
			usesGHCR = usesGHCR || h == ghcr
		}
		if cloud == "" {
			// publish needs every verification job (a failing make test
			// stops it), and packages: write only when ghcr.io is used.
			needs := map[string]bool{}
			switch n := pub.Needs.(type) {
			case string:
				needs[n] = true
			case []any:
				for _, x := range n {
					needs[fmt.Sprint(x)] = true
				}
			}
			for job := range wf.Jobs {
				if job != "publish" && !needs[job] {
					t.Fatalf("seed %d config %d: publish does not need %s (needs %v)\n%s", seed, i, job, pub.Needs, data)
				}
			}
			_, pkg := pub.Permissions["packages"]
			if !ok || pub.If != "${{ github.event_name == 'push' && github.ref == 'refs/heads/"+branch+"' }}" ||
				pub.Permissions["id-token"] != "write" || pkg != usesGHCR || (pkg && pub.Permissions["packages"] != "write") || pub.Environment != p.Wrappers.withDefaults().Environment {
				t.Fatalf("seed %d config %d: publish job %+v (ghcr.io used: %v)\n%s", seed, i, pub, usesGHCR, data)
			}
			// A job's secrets are safe from branches only as secrets of an
			// environment whose deployment-branch rule names the branch:
			// publish references secrets, so it runs in one unless the
			// configuration opts out explicitly.
			refs := false
			for _, st := range pub.Steps {
				for _, v := range st.Env {
					refs = refs || strings.Contains(v, "secrets.")
				}
			}
			if refs && pub.Environment == "" && !p.Wrappers.NoEnvironment {
				t.Fatalf("seed %d config %d: publish reads secrets outside a GitHub environment\n%s", seed, i, data)
			}
			if p.Wrappers.NoEnvironment && pub.Environment != "" {
				t.Fatalf("seed %d config %d: NoEnvironment, yet environment %q", seed, i, pub.Environment)
			}
			if err := checkRegistryEnv(p, hosts, data, pub.Steps); err != nil {
				t.Fatalf("seed %d config %d: %v\n%s", seed, i, err, data)
			}
		}
		if actionlint != "" && data != "" && i < 16 {
			f := filepath.Join(t.TempDir(), "ci.yml")
			os.WriteFile(f, []byte(data), 0o644)
			if out, err := exec.Command(actionlint, f).CombinedOutput(); err != nil {
				t.Fatalf("seed %d config %d: actionlint: %v\n%s", seed, i, err, out)
			}
		}

		jf, err := GenerateJenkinsfile(p)
		appHosts, unset, _ := p.registries()
		if len(unset) > 0 || p.GitOpsRepo == "" {
			if err == nil || strings.Contains(err.Error(), "\n") || (!strings.Contains(err.Error(), "App.Image") && !strings.Contains(err.Error(), "GitOps.Repo")) {
				t.Fatalf("seed %d config %d: a Jenkinsfile without App.Image or GitOps.Repo: %v", seed, i, err)
			}
			continue
		}
		if len(appHosts) > 1 || registry.CloudRegistry(appHosts[0]) != "" {
			// One credential is bound to one registry; never shared.
			if err == nil || strings.Contains(err.Error(), "\n") {
				t.Fatalf("seed %d config %d: a Jenkinsfile for %v: %v", seed, i, appHosts, err)
			}
			continue
		}
		if err != nil {
			t.Fatalf("seed %d config %d: %v", seed, i, err)
		}
		if !strings.Contains(jf, "REGISTRY_HOST = '"+appHosts[0]+"'") || strings.Count(jf, "REGISTRY_HOST") != 1 {
			t.Fatalf("seed %d config %d: the registry credential is not bound to %s\n%s", seed, i, appHosts[0], jf)
		}
		// Every verification stage runs before any publishing one.
		pubs := p.withDefaults().publishing()
		firstPub, lastVerify := len(jf), -1
		for _, st := range p.withDefaults().Stages {
			at := strings.Index(jf, "stage('"+st.Name+"')")
			if at < 0 {
				at = strings.Index(jf, st.Name)
			}
			if pubs[st.Name] && at < firstPub {
				firstPub = at
			}
			if !pubs[st.Name] && at > lastVerify {
				lastVerify = at
			}
		}
		for _, l := range strings.Split(jf, "\n") {
			if m := regexp.MustCompile(`stage\('([^']+ & [^']+)'\)`).FindStringSubmatch(l); m != nil {
				kinds := map[bool]bool{}
				for _, n := range strings.Split(m[1], " & ") {
					kinds[pubs[n]] = true
				}
				if len(kinds) > 1 {
					t.Fatalf("seed %d config %d: %s runs a verification stage in parallel with a publishing one\n%s", seed, i, m[1], jf)
				}
			}
		}
		if lastVerify > firstPub {
			t.Fatalf("seed %d config %d: a verification stage runs with or after a publishing one\n%s", seed, i, jf)
		}
		if problems := changeRequestPrivileges(t, jf, branch); len(problems) > 0 {
			t.Fatalf("seed %d config %d: %s\n%s", seed, i, strings.Join(problems, "\n"), jf)
		}
		if strings.Contains(jf, "example.com") || !strings.Contains(jf, p.GitOpsRepo) {
			t.Fatalf("seed %d config %d: Jenkinsfile does not name the configured GitOps repository\n%s", seed, i, jf)
		}
	}
}

// checkRegistryEnv is issue 17 item 13: the publish step's environment
// follows the configuration: GITHUB_TOKEN only when ghcr.io is used, a
// login step per other registry with that registry's own secrets (the
// password on stdin, never argv), each registry secret given to exactly one
// host, CI_IMAGE only for apps without one, GITOPS_REPO only when the
// configuration has none, and no placeholder.
func checkRegistryEnv(p Project, hosts []string, data string, steps []struct {
	Run string            `json:"run"`
	Env map[string]string `json:"env"`
}) error {
	var env map[string]string
	for _, s := range steps {
		if strings.Contains(s.Run, "--publish") {
			env = s.Env
		}
	}
	if env == nil {
		return fmt.Errorf("no publishing step")
	}
	_, unset, _ := p.registries()
	secretRE := regexp.MustCompile(`secrets\.(REGISTRY_[A-Z0-9_]+)`)
	owner := map[string]string{} // registry secret -> the one host given it
	for _, h := range hosts {
		if h == ghcr {
			if env["GITHUB_TOKEN"] != "${{ secrets.GITHUB_TOKEN }}" {
				return fmt.Errorf("ghcr.io used without GITHUB_TOKEN")
			}
			continue
		}
		logins := 0
		for _, s := range steps {
			if !strings.Contains(s.Run, "docker login "+h+" ") {
				continue
			}
			logins++
			if !strings.Contains(s.Run, "--password-stdin") || strings.Contains(s.Run, "${{") || strings.Contains(s.Run, "--password ") || strings.Contains(s.Run, " -p ") {
				return fmt.Errorf("login to %s: the password is not on stdin: %q", h, s.Run)
			}
			for _, v := range s.Env {
				for _, m := range secretRE.FindAllStringSubmatch(v, -1) {
					if o, ok := owner[m[1]]; ok && o != h {
						return fmt.Errorf("secret %s given to %s and %s", m[1], o, h)
					}
					owner[m[1]] = h
				}
			}
		}
		if logins != 1 {
			return fmt.Errorf("%d login steps for %s", logins, h)
		}
	}
	if _, ghcrUsed := env["GITHUB_TOKEN"]; ghcrUsed != contains(hosts, ghcr) {
		return fmt.Errorf("GITHUB_TOKEN given: %v; ghcr.io used: %v", ghcrUsed, contains(hosts, ghcr))
	}
	// No registry secret anywhere else (the publish step, another job).
	if got := len(secretRE.FindAllString(data, -1)); got != len(owner) || len(owner) != 2*(len(hosts)-btoi(contains(hosts, ghcr))) {
		return fmt.Errorf("%d registry secret references, %d secrets for %d hosts", got, len(owner), len(hosts))
	}
	if _, ok := env["CI_IMAGE"]; ok != (len(unset) > 0) {
		return fmt.Errorf("CI_IMAGE set: %v, apps without App.Image: %v", ok, unset)
	}
	if ci, ok := env["CI_IMAGE"]; ok && !strings.HasPrefix(ci, "ghcr.io/") {
		return fmt.Errorf("CI_IMAGE %q", ci)
	}
	if _, ok := env["GITOPS_REPO"]; ok != (p.GitOpsRepo == "") {
		return fmt.Errorf("GITOPS_REPO in env: %v, configured %q", ok, p.GitOpsRepo)
	}
	for k, v := range env {
		if strings.Contains(v, "example.com") {
			return fmt.Errorf("%s is a placeholder: %s", k, v)
		}
	}
	return nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// The checkers themselves: each catches the privilege it looks for (the
// workflow and Jenkinsfile Slipway generated before issue 17 fail them).
func TestPrivilegeCheckersCatchLeaks(t *testing.T) {
	oldWorkflow := `on:
  pull_request:
  push:
    branches: [main]
permissions:
  contents: read
jobs:
  pipeline:
    runs-on: ubuntu-24.04
    permissions:
      contents: read
      packages: write
      id-token: write
    steps:
      - run: go run ./ci $PUBLISH
        env:
          GITOPS_TOKEN: ${{ secrets.GITOPS_TOKEN }}
`
	if len(prPrivileges(t, oldWorkflow)) < 3 {
		t.Errorf("the old single job passes: %v", prPrivileges(t, oldWorkflow))
	}
	gated := strings.Replace(oldWorkflow, "    runs-on:", "    if: github.event_name == 'push' && github.ref == 'refs/heads/main'\n    runs-on:", 1)
	if p := prPrivileges(t, gated); len(p) != 0 {
		t.Errorf("a push-only job counted as reachable: %v", p)
	}
	orGated := strings.Replace(oldWorkflow, "    runs-on:", "    if: github.event_name == 'push' || github.event_name == 'pull_request'\n    runs-on:", 1)
	if len(prPrivileges(t, orGated)) == 0 {
		t.Error("an || condition counted as push-only")
	}
	oldJenkins := `pipeline {
  stages {
    stage('integration') {
      steps {
        withCredentials([string(credentialsId: 'db-password', variable: 'DB_PASSWORD')]) {
          sh 'go run ./ci run integration'
        }
      }
    }
    stage('push') {
      when { branch 'main' }
      steps { sh 'go run ./ci run push' }
    }
  }
}
`
	if p := changeRequestPrivileges(t, oldJenkins, "main"); len(p) != 2 {
		t.Errorf("old Jenkinsfile: %v", p)
	}
}

// TestGeneratedCIFollowsConfiguration is issue 17 item 13's report: an
// App.Image on registry.acme.io gets REGISTRY_USERNAME/REGISTRY_PASSWORD and
// no ghcr.io CI_IMAGE; a Jenkinsfile with nothing configured is refused
// (exit 2, one line naming the field), never written with example.com.
func TestGeneratedCIFollowsConfiguration(t *testing.T) {
	noEngineEnv(t)
	p := testProject()
	p.Apps[0].Image = "registry.acme.io/payments/sample-app"
	data, err := GenerateGitHubActions(p)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(data, "CI_IMAGE") || !strings.Contains(data, "REGISTRY_PASSWORD: ${{ secrets.REGISTRY_REGISTRY_ACME_IO_PASSWORD }}") ||
		strings.Contains(data, "secrets.REGISTRY_PASSWORD") || !strings.Contains(data, "docker login registry.acme.io --username \"$REGISTRY_USERNAME\" --password-stdin") {
		t.Errorf("workflow for registry.acme.io:\n%s", data)
	}
	// The reported configuration: four registries, each its own secret; the
	// ECR host refused rather than given a static pair.
	multi := testProject()
	multi.Apps = []App{{Name: "a", Source: "../../sample-app", Image: "registry.acme.io/t/a"}, {Name: "b", Source: "../../sample-app", Image: "ghcr.io/acme/b"},
		{Name: "c", Source: "../../sample-app", Image: "quay.io/acme/c"}}
	data, err = GenerateGitHubActions(multi)
	if err != nil || !strings.Contains(data, "secrets.REGISTRY_QUAY_IO_PASSWORD") || !strings.Contains(data, "secrets.REGISTRY_REGISTRY_ACME_IO_PASSWORD") || strings.Contains(data, "secrets.REGISTRY_PASSWORD") {
		t.Errorf("workflow for three registries: %v\n%s", err, data)
	}
	multi.Apps = append(multi.Apps, App{Name: "d", Source: "../../sample-app", Image: "123456789012.dkr.ecr.eu-west-1.amazonaws.com/d"})
	if _, err := GenerateGitHubActions(multi); err == nil || !strings.Contains(err.Error(), "ECR") {
		t.Errorf("an ECR host: %v", err)
	}
	// The tests job gates publishing; without ghcr.io, no packages: write.
	gated := p
	gated.Wrappers.TestCommands = []string{"make test"}
	gated.Wrappers.CacheRepo = "registry.acme.io/payments/cache"
	data, _ = GenerateGitHubActions(gated)
	if !strings.Contains(data, "needs: [verify, tests]") || strings.Contains(data, "packages: write") || strings.Contains(data, "GITHUB_TOKEN") {
		t.Errorf("workflow with a tests job and no ghcr.io:\n%s", data)
	}
	dir := t.TempDir()
	for _, c := range []struct {
		p    Project
		want string
	}{
		{testProject(), "App.Image of sample-app is empty"},
		{p, "GitOps.Repo is empty"},
	} {
		var out, errb strings.Builder
		f := filepath.Join(dir, "Jenkinsfile")
		code := Execute(context.Background(), c.p, []string{"generate", "jenkinsfile", "--output", f}, &out, &errb)
		if code != 2 || !strings.Contains(errb.String(), c.want) || strings.Count(strings.TrimSpace(errb.String()), "\n") != 0 {
			t.Errorf("exit %d %q, want 2 and one line with %q", code, errb.String(), c.want)
		}
		if _, err := os.Stat(f); err == nil {
			t.Error("a refused generate wrote a file")
		}
	}
	var out, errb strings.Builder
	if code := Execute(context.Background(), p, []string{"generate", "jenkinsfile", "--gitops-repo", "https://git.acme.io/gitops.git", "--output", filepath.Join(dir, "J3")}, &out, &errb); code != 0 {
		t.Fatalf("exit %d %s", code, errb.String())
	}
	jf, _ := os.ReadFile(filepath.Join(dir, "J3"))
	if strings.Contains(string(jf), "example.com") || !strings.Contains(string(jf), "GITOPS_REPO   = 'https://git.acme.io/gitops.git'") {
		t.Errorf("Jenkinsfile:\n%s", jf)
	}
}

// Wrappers.NoEnvironment is the explicit opt-out of the publish job's
// environment; with Wrappers.Environment it contradicts itself (exit 2).
func TestNoEnvironmentOptOut(t *testing.T) {
	p := testProject()
	p.Apps[0].Image = "ghcr.io/acme/sample-app"
	p.GitOpsRepo = "https://git.acme.io/platform/gitops.git"
	data, err := GenerateGitHubActions(p)
	if err != nil || !strings.Contains(data, "    environment: publish\n") {
		t.Fatalf("default: %v\n%s", err, data)
	}
	p.Wrappers.NoEnvironment = true
	data, err = GenerateGitHubActions(p)
	if err != nil || strings.Contains(data, "environment:") || !strings.Contains(data, "No GitHub environment (Wrappers.NoEnvironment)") {
		t.Fatalf("opted out: %v\n%s", err, data)
	}
	p.Wrappers.Environment = "production"
	if err := p.Validate(); err == nil || !strings.Contains(err.Error(), "NoEnvironment") {
		t.Errorf("both set: %v", err)
	}
}

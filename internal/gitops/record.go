package gitops

import (
	"bufio"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/go-git/go-git/v5/plumbing/object"
)

// Record is one deployment, as the commit trailers tell it.
type Record struct {
	Time         time.Time `json:"time"`
	App          string    `json:"app"`
	Env          string    `json:"env"`
	Image        string    `json:"image"`
	SourceCommit string    `json:"source_commit"`
	Commit       string    `json:"commit"`
	Author       string    `json:"author"`
}

// Trailer keys of the contract.
const (
	trImage       = "Image"
	trSource      = "Source-Commit"
	trApp         = "App"
	trEnv         = "Environment"
	trPipelineRun = "Pipeline-Run"
)

var shaRE = regexp.MustCompile(`^[0-9a-f]{40}$`)

// Message renders the commit message of a deployment.
func Message(app, env string, img Image, sourceCommit, pipelineRun string) string {
	if pipelineRun == "" {
		pipelineRun = "local"
	}
	return fmt.Sprintf("deploy(%s): %s -> sha256:%s\n\n%s: %s\n%s: %s\n%s: %s\n%s: %s\n%s: %s\n",
		app, env, img.Short(),
		trImage, img.String(),
		trSource, sourceCommit,
		trApp, app,
		trEnv, env,
		trPipelineRun, pipelineRun)
}

// trailers reads "Key: Value" lines of the message's last paragraph.
func trailers(msg string) map[string]string {
	msg = strings.TrimRight(msg, "\n")
	if i := strings.LastIndex(msg, "\n\n"); i >= 0 {
		msg = msg[i+2:]
	} else {
		return nil
	}
	out := map[string]string{}
	sc := bufio.NewScanner(strings.NewReader(msg))
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ": ")
		if !ok || strings.ContainsAny(k, " \t") {
			continue
		}
		out[k] = strings.TrimSpace(v)
	}
	return out
}

// recordOf returns the deployment a commit records, if it is one.
func recordOf(c *object.Commit) (Record, bool) {
	if !strings.HasPrefix(c.Message, "deploy(") {
		return Record{}, false
	}
	t := trailers(c.Message)
	if t[trApp] == "" || t[trEnv] == "" || t[trImage] == "" {
		return Record{}, false
	}
	return Record{
		Time:         c.Committer.When.UTC(),
		App:          t[trApp],
		Env:          t[trEnv],
		Image:        t[trImage],
		SourceCommit: t[trSource],
		Commit:       c.Hash.String(),
		Author:       c.Author.Name + " <" + c.Author.Email + ">",
	}, true
}

// PipelineRun is the CI run URL from the environment, or "local".
func PipelineRun(getenv func(string) string) string {
	if id := getenv("GITHUB_RUN_ID"); id != "" && getenv("GITHUB_REPOSITORY") != "" {
		server := getenv("GITHUB_SERVER_URL")
		if server == "" {
			server = "https://github.com"
		}
		u := fmt.Sprintf("%s/%s/actions/runs/%s", strings.TrimSuffix(server, "/"), getenv("GITHUB_REPOSITORY"), id)
		if a := getenv("GITHUB_RUN_ATTEMPT"); a != "" && a != "1" {
			u += "/attempts/" + a
		}
		return u
	}
	if u := getenv("BUILD_URL"); u != "" { // Jenkins
		return u
	}
	if u := getenv("CI_PIPELINE_URL"); u != "" { // GitLab
		return u
	}
	return "local"
}

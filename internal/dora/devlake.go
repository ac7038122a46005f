package dora

import (
	"strings"
	"time"

	"github.com/slipway-ci/slipway/internal/gitops"
)

// DevLakeDeployment is one payload of Apache DevLake's incoming webhook for
// deployments (POST …/plugins/webhook/connections/:id/deployments), so teams
// that run DevLake import Slipway's exact records.
type DevLakeDeployment struct {
	ID                string          `json:"id"`
	PipelineID        string          `json:"pipeline_id"` // the same id, under the name DevLake before v1.0 reads
	RepoURL           string          `json:"repo_url"`    // single-commit form of older DevLake versions
	CommitSha         string          `json:"commit_sha"`
	DisplayTitle      string          `json:"display_title"`
	Result            string          `json:"result"`
	Environment       string          `json:"environment"`
	Name              string          `json:"name"`
	URL               string          `json:"url,omitempty"`
	StartedDate       time.Time       `json:"start_time"`
	FinishedDate      time.Time       `json:"end_time"`
	DeploymentCommits []DevLakeCommit `json:"deploymentCommits"`
}

// DevLakeCommit is a source commit a deployment shipped.
type DevLakeCommit struct {
	RepoURL      string    `json:"repo_url"`
	RefName      string    `json:"ref_name,omitempty"`
	CommitSha    string    `json:"commit_sha"`
	DisplayTitle string    `json:"display_title,omitempty"`
	StartedDate  time.Time `json:"start_time"`
	FinishedDate time.Time `json:"end_time"`
}

// devlakeEnv maps an environment to DevLake's (PRODUCTION is what its DORA
// dashboards count).
func devlakeEnv(env string) string {
	switch e := strings.ToLower(env); {
	case strings.HasPrefix(e, "prod"):
		return "PRODUCTION"
	case strings.HasPrefix(e, "stag"):
		return "STAGING"
	case strings.HasPrefix(e, "dev"):
		return "DEVELOPMENT"
	case strings.HasPrefix(e, "test"), e == "qa":
		return "TESTING"
	}
	return strings.ToUpper(env)
}

// DevLake renders the deploys of recs (newest first) as DevLake payloads,
// oldest first; repoURL is the source repository's URL DevLake knows.
func DevLake(recs []gitops.Record, repoURL string, since time.Time) []DevLakeDeployment {
	var out []DevLakeDeployment
	for i := len(recs) - 1; i >= 0; i-- {
		r := recs[i]
		if !r.IsDeploy() || r.Time.Before(since) || r.SourceCommit == "" {
			continue
		}
		title := "deploy(" + r.App + "): " + r.Env
		if r.IsRollback() {
			title = "rollback(" + r.App + "): " + r.Env
		}
		out = append(out, DevLakeDeployment{
			ID: r.Commit, PipelineID: r.Commit, RepoURL: repoURL, CommitSha: r.SourceCommit, DisplayTitle: title, Result: "SUCCESS", Environment: devlakeEnv(r.Env),
			Name: r.App + " " + r.Env + " " + shortDigest(r.Image), StartedDate: r.Time, FinishedDate: r.Time,
			DeploymentCommits: []DevLakeCommit{{
				RepoURL: repoURL, CommitSha: r.SourceCommit, DisplayTitle: title,
				StartedDate: r.Time, FinishedDate: r.Time,
			}},
		})
	}
	return out
}

func shortDigest(image string) string {
	if i := strings.LastIndex(image, "@sha256:"); i >= 0 && len(image) >= i+8+12 {
		return image[i+8 : i+8+12]
	}
	return image
}

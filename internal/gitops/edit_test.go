package gitops

import (
	"errors"
	"strings"
	"testing"
)

var img = Image{Repo: "ghcr.io/acme/payments", Digest: "sha256:" + strings.Repeat("ab", 32)}

const kustomization = `apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
# keep this comment
resources:
  - ../../base
images:
  - name: other
    newTag: "1.0"
  - name: payments # the app
    newName: registry.old/payments
    newTag: v1.2.3
`

func TestEditKustomization(t *testing.T) {
	out, ch, err := Edit("k.yaml", []byte(kustomization), "payments", img)
	if err != nil {
		t.Fatal(err)
	}
	want := `apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
# keep this comment
resources:
  - ../../base
images:
  - name: other
    newTag: "1.0"
  - name: payments # the app
    newName: ghcr.io/acme/payments
    digest: sha256:` + strings.Repeat("ab", 32) + "\n"
	if string(out) != want {
		t.Errorf("edit:\n%s\nwant:\n%s", out, want)
	}
	if !ch.Changed || ch.Before != "registry.old/payments:v1.2.3" || ch.After != img.String() || ch.Target != "payments" {
		t.Errorf("change %+v", ch)
	}
	// Again: already there, no change, bytes identical.
	again, ch2, err := Edit("k.yaml", out, "payments", img)
	if err != nil || ch2.Changed || string(again) != string(out) {
		t.Errorf("second edit changed=%v err=%v", ch2.Changed, err)
	}
}

func TestEditMatchesByImageRepository(t *testing.T) {
	data := "kind: Kustomization\nimages:\n  - name: ghcr.io/acme/payments\n    newTag: v1\n"
	out, ch, err := Edit("k.yaml", []byte(data), "not-the-name", img)
	if err != nil || !ch.Changed || !strings.Contains(string(out), "digest: "+img.Digest) || strings.Contains(string(out), "newTag") {
		t.Errorf("match by name=repo: %v %s", err, out)
	}
	data = "kind: Kustomization\nimages:\n  - name: app\n    newName: ghcr.io/acme/payments\n"
	if _, ch, err := Edit("k.yaml", []byte(data), "x", img); err != nil || ch.Target != "app" {
		t.Errorf("match by newName: %v %+v", err, ch)
	}
}

func TestEditWorkloads(t *testing.T) {
	cases := map[string]string{
		"Deployment": `apiVersion: apps/v1
kind: Deployment
metadata:
  name: payments
spec:
  template:
    spec:
      initContainers:
        - name: migrate
          image: ghcr.io/acme/payments:v1 # same image runs migrations
      containers:
        - name: payments
          image: ghcr.io/acme/payments:v1
        - name: sidecar
          image: envoyproxy/envoy:v1.30
`,
		"CronJob": `apiVersion: batch/v1
kind: CronJob
metadata:
  name: payments-report
spec:
  schedule: "0 3 * * *"
  jobTemplate:
    spec:
      template:
        spec:
          containers:
            - name: report
              image: ghcr.io/acme/payments@sha256:` + strings.Repeat("00", 32) + `
`,
		"Rollout": `apiVersion: argoproj.io/v1alpha1
kind: Rollout
metadata:
  name: payments
spec:
  strategy:
    canary: {}
  template:
    spec:
      containers:
        - name: payments
          image: payments
`,
		"StatefulSet+Service": `apiVersion: v1
kind: Service
metadata:
  name: payments
---
apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: payments
spec:
  template:
    spec:
      containers:
        - name: main
          image: ghcr.io/acme/payments:v0.9
`,
	}
	for name, data := range cases {
		out, ch, err := Edit(name+".yaml", []byte(data), "payments", img)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if !ch.Changed || strings.Count(string(out), img.String()) == 0 {
			t.Errorf("%s: not rewritten:\n%s", name, out)
		}
		if strings.Contains(string(out), "payments:v") {
			t.Errorf("%s: a tagged reference survived:\n%s", name, out)
		}
		if name == "Deployment" {
			if strings.Count(string(out), img.String()) != 2 || !strings.Contains(string(out), "envoyproxy/envoy:v1.30") || !strings.Contains(string(out), "# same image runs migrations") {
				t.Errorf("Deployment: want init and main container rewritten, sidecar and comment kept:\n%s", out)
			}
		}
		if name == "StatefulSet+Service" && !strings.HasPrefix(string(out), "apiVersion: v1\nkind: Service") {
			t.Errorf("multi-doc order lost:\n%s", out)
		}
	}
}

func TestEditErrors(t *testing.T) {
	_, _, err := Edit("k.yaml", []byte("kind: Kustomization\nimages:\n  - name: web\n  - name: worker\n"), "payments", img)
	if !errors.Is(err, ErrNoMatch) || !strings.Contains(err.Error(), "images[name=web], images[name=worker]") || !strings.Contains(err.Error(), "k.yaml") {
		t.Errorf("no match: %v", err)
	}
	_, _, err = Edit("bad.yaml", []byte("kind: Kustomization\nimages: [\n"), "payments", img)
	if err == nil || !strings.Contains(err.Error(), "bad.yaml") {
		t.Errorf("malformed: %v", err)
	}
	_, _, err = Edit("cm.yaml", []byte("kind: ConfigMap\ndata: {}\n"), "payments", img)
	if !errors.Is(err, ErrNoMatch) {
		t.Errorf("nothing to edit: %v", err)
	}
}

func TestParseImage(t *testing.T) {
	d := "sha256:" + strings.Repeat("0a", 32)
	good := map[string]string{
		"ghcr.io/acme/app@" + d:           "ghcr.io/acme/app",
		"127.0.0.1:5005/slipway/app@" + d: "127.0.0.1:5005/slipway/app",
		"ghcr.io/acme/app:v1@" + d:        "ghcr.io/acme/app",
	}
	for in, repo := range good {
		i, err := ParseImage(in)
		if err != nil || i.Repo != repo || i.Digest != d {
			t.Errorf("%s: %+v %v", in, i, err)
		}
	}
	if _, err := ParseImage("ghcr.io/acme/app:v1"); !errors.Is(err, ErrNotDigest) {
		t.Errorf("tag-only: %v", err)
	}
	for _, bad := range []string{"ghcr.io/acme/app@sha256:abc", "UPPER/app@" + d, ""} {
		if _, err := ParseImage(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

// Issue 12.16: an edit keeps CRLF line ends and a byte-order mark.
func TestEditKeepsCRLFAndBOM(t *testing.T) {
	in := "\ufeffapiVersion: kustomize.config.k8s.io/v1beta1\r\nkind: Kustomization\r\n# keep me\r\nimages:\r\n  - name: sample-app\r\n    newTag: v1\r\n"
	out, ch, err := Edit("k.yaml", []byte(in), "sample-app", digest(1))
	if err != nil || !ch.Changed {
		t.Fatal(err)
	}
	want := "\ufeffapiVersion: kustomize.config.k8s.io/v1beta1\r\nkind: Kustomization\r\n# keep me\r\nimages:\r\n  - name: sample-app\r\n    newName: ghcr.io/acme/sample-app\r\n    digest: " + digest(1).Digest + "\r\n"
	if string(out) != want {
		t.Fatalf("got %q\nwant %q", out, want)
	}
}

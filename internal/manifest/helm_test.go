package manifest

import (
	"errors"
	"strings"
	"testing"
)

var setPI = Set{App: "podinfo", Repo: "ghcr.io/acme/podinfo", Digest: dig1}

func TestEditHelm(t *testing.T) {
	cases := []struct {
		name, file, in, want string
		set                  Set
		notes                int
	}{
		{"values file with a digest value", "charts/podinfo/values-staging.yaml",
			"# staging\nreplicaCount: 2\n\nimage:\n  repository: ghcr.io/stefanprodan/podinfo\n  tag: 6.7.0\n  digest: \"\"\n  pullPolicy: IfNotPresent\n",
			"# staging\nreplicaCount: 2\n\nimage:\n  repository: ghcr.io/acme/podinfo\n  tag: 6.7.0\n  digest: \"" + dig1 + "\"\n  pullPolicy: IfNotPresent\n", setPI, 0},
		{"an empty digest value is written after its colon", "values.yaml",
			"image:\n  repository: ghcr.io/acme/podinfo\n  tag: 6.7.0\n  digest: # set by CI\n  other: ~\n",
			"image:\n  repository: ghcr.io/acme/podinfo\n  tag: 6.7.0\n  digest: " + dig1 + " # set by CI\n  other: ~\n", setPI, 0},
		{"a null digest value", "values.yaml",
			"image:\n  repository: ghcr.io/acme/podinfo\n  digest: ~\n",
			"image:\n  repository: ghcr.io/acme/podinfo\n  digest: " + dig1 + "\n", setPI, 0},
		{"tag-only chart gets tag@digest", "values-production.yaml",
			"image:\n  repository: ghcr.io/acme/podinfo\n  tag: \"6.7.0\"\n",
			"image:\n  repository: ghcr.io/acme/podinfo\n  tag: \"6.7.0@" + dig1 + "\"\n", setPI, 1},
		{"configured paths are inserted in the file's style", "values-dev.yaml",
			"app:\n    image:\n        name: old\n",
			"app:\n    image:\n        name: ghcr.io/acme/podinfo\n        sha: " + dig1 + "\n",
			Set{App: "podinfo", Repo: "ghcr.io/acme/podinfo", Digest: dig1, Values: &Values{Repository: "app.image.name", Digest: "app.image.sha"}}, 0},
		{"flux markers: name kept, digest marker removed", "values.yaml",
			"image:\n  repository: ghcr.io/acme/podinfo # {\"$imagepolicy\": \"flux-system:podinfo:name\"}\n  tag: 6.7.0 # {\"$imagepolicy\": \"flux-system:podinfo:tag\"}\n  digest: sha256:" + strings.Repeat("00", 32) + " # {\"$imagepolicy\": \"flux-system:podinfo:digest\"}\n",
			"image:\n  repository: ghcr.io/acme/podinfo # {\"$imagepolicy\": \"flux-system:podinfo:name\"}\n  tag: 6.7.0 # {\"$imagepolicy\": \"flux-system:podinfo:tag\"}\n  digest: " + dig1 + "\n", setPI, 1},
		{"flux full marker at another path", "values.yaml",
			"podinfo:\n  ref: ghcr.io/acme/podinfo:6.7.0 # {\"$imagepolicy\": \"flux-system:podinfo\"}\n",
			"podinfo:\n  ref: ghcr.io/acme/podinfo@" + dig1 + "\n", setPI, 2},
		{"HelmRelease spec.values", "apps/base/podinfo/release.yaml",
			`apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata:
  name: podinfo
  namespace: podinfo
spec:
  releaseName: podinfo
  chart:
    spec:
      chart: podinfo
      sourceRef:
        kind: HelmRepository
        name: podinfo
  interval: 50m
  install:
    remediation:
      retries: 3
  # Default values
  # https://github.com/stefanprodan/podinfo/blob/master/charts/podinfo/values.yaml
  values:
    redis:
      enabled: true
      repository: public.ecr.aws/docker/library/redis
      tag: 7.0.6
    image:
      repository: ghcr.io/stefanprodan/podinfo
      tag: 6.7.0 # {"$imagepolicy": "flux-system:podinfo:tag"}
    ingress:
      enabled: true
`, "", Set{App: "podinfo", Repo: "ghcr.io/acme/podinfo", Digest: dig1, Tag: "6.7.0"}, 2}, // a new repository: its own tag (the old one's would be stale)
		{"Application helm.values string", "argocd/podinfo.yaml",
			"apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata:\n  name: podinfo\nspec:\n  source:\n    repoURL: https://github.com/acme/gitops\n    path: charts/podinfo\n    helm:\n      values: |\n        replicaCount: 2\n\n        image:\n          repository: ghcr.io/stefanprodan/podinfo\n          tag: 6.7.0\n      valueFiles:\n      - values-prod.yaml\n",
			"apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata:\n  name: podinfo\nspec:\n  source:\n    repoURL: https://github.com/acme/gitops\n    path: charts/podinfo\n    helm:\n      values: |\n        replicaCount: 2\n\n        image:\n          repository: ghcr.io/acme/podinfo\n          tag: 6.7.0\n          digest: " + dig1 + "\n      valueFiles:\n      - values-prod.yaml\n",
			Set{App: "podinfo", Repo: "ghcr.io/acme/podinfo", Digest: dig1, Values: &Values{Repository: "image.repository", Tag: "image.tag", Digest: "image.digest"}}, 0},
		{"Application valuesObject", "app.yaml",
			"apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata:\n  name: podinfo\nspec:\n  source:\n    helm:\n      valuesObject:\n        image: {repository: ghcr.io/acme/podinfo, digest: \"\"}\n",
			"apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata:\n  name: podinfo\nspec:\n  source:\n    helm:\n      valuesObject:\n        image: {repository: ghcr.io/acme/podinfo, digest: \"" + dig1 + "\"}\n", setPI, 0},
		{"Application parameters win over values", "app.yaml",
			"apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata:\n  name: podinfo-prod\nspec:\n  source:\n    helm:\n      parameters:\n      - name: image.digest\n        value: sha256:" + strings.Repeat("00", 32) + "\n      values: |\n        image:\n          repository: ghcr.io/acme/podinfo\n          digest: sha256:" + strings.Repeat("00", 32) + "\n",
			"apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata:\n  name: podinfo-prod\nspec:\n  source:\n    helm:\n      parameters:\n      - name: image.digest\n        value: " + dig1 + "\n      values: |\n        image:\n          repository: ghcr.io/acme/podinfo\n          digest: sha256:" + strings.Repeat("00", 32) + "\n", setPI, 0},
		{"argocd-source helm parameters", "charts/podinfo/.argocd-source-podinfo.yaml",
			"helm:\n  parameters:\n  - name: image.repository\n    value: ghcr.io/acme/podinfo\n    forcestring: true\n  - name: image.tag\n    value: 6.7.0\n    forcestring: true\n",
			"helm:\n  parameters:\n  - name: image.repository\n    value: ghcr.io/acme/podinfo\n    forcestring: true\n  - name: image.tag\n    value: 6.7.0\n    forcestring: true\n  - name: image.digest\n    value: " + dig1 + "\n    forcestring: true\n", // the file's own spelling
			Set{App: "podinfo", Repo: "ghcr.io/acme/podinfo", Digest: dig1, Values: &Values{Repository: "image.repository", Digest: "image.digest"}}, 0},
		{"argocd-source kustomize images", "overlays/prod/.argocd-source-podinfo.yaml",
			"kustomize:\n  images:\n  - ghcr.io/acme/podinfo:6.7.0\n",
			"kustomize:\n  images:\n  - ghcr.io/acme/podinfo@" + dig1 + "\n", setPI, 0},
		{"new argocd-source for a chart", "charts/podinfo/.argocd-source-podinfo.yaml", "",
			"helm:\n  parameters:\n  - name: image.repository\n    value: ghcr.io/acme/podinfo\n    forceString: true\n  - name: image.digest\n    value: " + dig1 + "\n    forceString: true\n",
			Set{App: "podinfo", Repo: "ghcr.io/acme/podinfo", Digest: dig1, Helm: true}, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			out, res, err := Edit(c.file, []byte(c.in), c.set)
			if err != nil {
				t.Fatal(err)
			}
			if c.want == "" {
				// podinfo's chart takes only a tag: the tag carries the digest, and
				// the :tag marker (Flux would write a bare tag) goes.
				c.want = strings.Replace(strings.Replace(c.in, "ghcr.io/stefanprodan/podinfo", "ghcr.io/acme/podinfo", 1), `tag: 6.7.0 # {"$imagepolicy": "flux-system:podinfo:tag"}`, "tag: 6.7.0@"+dig1, 1)
			}
			if string(out) != c.want {
				t.Fatalf("got:\n%s\nwant:\n%s", out, c.want)
			}
			if !res.Changed || len(res.Notes) != c.notes {
				t.Errorf("result %+v", res)
			}
			if strings.Contains(c.name, "full marker") {
				// The marker is gone; the note names the flag that finds the value.
				if !strings.Contains(strings.Join(res.Notes, " "), "--helm-value image=podinfo.ref") {
					t.Errorf("notes %v", res.Notes)
				}
				c.set.Values = &Values{Image: "podinfo.ref"}
			}
			again, res2, err := Edit(c.file, out, c.set)
			if err != nil || res2.Changed || string(again) != string(out) {
				t.Errorf("second edit: changed=%v err=%v\n%s", res2.Changed, err, again)
			}
		})
	}
}

func TestHelmValuesWithoutImageSaysWhichFlag(t *testing.T) {
	_, _, err := Edit("helm-guestbook/values.yaml", []byte("replicaCount: 1\nservice:\n  type: ClusterIP\n  port: 80\n"), setPI)
	// Said once (adv18 #8: the paths were listed twice).
	if !errors.Is(err, ErrHelmPaths) || strings.Count(err.Error(), "image.repository, image.tag, image.digest") != 1 || !strings.Contains(err.Error(), "--helm-value digest=") || !strings.Contains(err.Error(), "helm-guestbook/values.yaml") {
		t.Errorf("%v", err)
	}
}

func TestTagOnlyChartNeedsATag(t *testing.T) {
	_, _, err := Edit("values.yaml", []byte("image:\n  repository: ghcr.io/acme/podinfo\n  tag: \"\"\n"), setPI)
	if err == nil || !strings.Contains(err.Error(), "only a tag") {
		t.Errorf("%v", err)
	}
	out, _, err := Edit("values.yaml", []byte("image:\n  repository: ghcr.io/acme/podinfo\n  tag: \"\"\n"), Set{App: "podinfo", Repo: "ghcr.io/acme/podinfo", Digest: dig1, Tag: "1.2.3"})
	if err != nil || !strings.Contains(string(out), `tag: "1.2.3@`+dig1+`"`) {
		t.Errorf("%v %s", err, out)
	}
}

func TestTagMarkerOnTagOnlyChartIsRemoved(t *testing.T) {
	in := "image:\n  repository: ghcr.io/acme/podinfo\n  tag: 6.7.0 # {\"$imagepolicy\": \"flux-system:podinfo:tag\"}\n"
	out, res, err := Edit("values.yaml", []byte(in), setPI)
	if err != nil || strings.Contains(string(out), "imagepolicy") || len(res.Notes) != 2 {
		t.Errorf("%v %s %v", err, out, res.Notes)
	}
}

package manifest

import (
	"strings"
	"testing"
)

// TestTagOnlyChart (adv18 #8): a chart that takes only a tag. The chart's
// own values.yaml says which paths it takes when the environment's values
// have no image; the tag comes from --image REPO:TAG@sha256:…; a tag that
// belongs to the old repository is never kept when the repository changes
// (refused naming the value to set); the same in an Application's
// valuesObject, values string and parameters and a HelmRelease's values.
func TestTagOnlyChart(t *testing.T) {
	const chart = "# Default values for helm-guestbook.\nreplicaCount: 1\n\nimage:\n  repository: gcr.io/heptio-images/ks-guestbook-demo\n  tag: 0.1\n  pullPolicy: IfNotPresent\n"
	const newRepo = "reg.example.com/acme/guestbook"
	prod := "# production overrides\nreplicaCount: 3   # more\n\nservice:\n  type: LoadBalancer\n"
	for _, c := range []struct {
		name, file, in string
		set            Set
		want           string   // "" with refuse
		refuse         []string // substrings of the refusal
	}{
		{name: "no image in the env values: the chart's paths, a new repository without a tag",
			file: "helm-guestbook/values-production.yaml", in: prod,
			set:    Set{App: "helm-guestbook", Repo: newRepo, Digest: dig1, ChartValues: []byte(chart)},
			refuse: []string{"image.tag \"0.1\" is gcr.io/heptio-images/ks-guestbook-demo's tag", "--image " + newRepo + ":TAG@" + dig1}},
		{name: "no image in the env values: the chart's paths, the image's tag",
			file: "helm-guestbook/values-production.yaml", in: prod,
			set:  Set{App: "helm-guestbook", Repo: newRepo, Digest: dig1, Tag: "0.2", ChartValues: []byte(chart)},
			want: prod + "image:\n  repository: " + newRepo + "\n  tag: \"0.2@" + dig1 + "\"\n"},
		{name: "no image in the env values: the chart's repository, its tag kept",
			file: "helm-guestbook/values-production.yaml", in: prod,
			set:  Set{App: "helm-guestbook", Repo: "gcr.io/heptio-images/ks-guestbook-demo", Digest: dig1, ChartValues: []byte(chart)},
			want: prod + "image:\n  repository: gcr.io/heptio-images/ks-guestbook-demo\n  tag: \"0.1@" + dig1 + "\"\n"},
		{name: "the chart takes a digest",
			file: "helm-guestbook/values-production.yaml", in: prod,
			set:  Set{App: "helm-guestbook", Repo: newRepo, Digest: dig1, ChartValues: []byte(strings.Replace(chart, "  tag: 0.1\n", "  tag: 0.1\n  digest: \"\"\n", 1))},
			want: prod + "image:\n  repository: " + newRepo + "\n  digest: " + dig1 + "\n"},
		{name: "no image anywhere: said once",
			file: "helm-guestbook/values-production.yaml", in: prod,
			set:    Set{App: "helm-guestbook", Repo: newRepo, Digest: dig1, ChartValues: []byte("replicaCount: 1\n")},
			refuse: []string{"neither the values nor the chart's values.yaml hold no image.repository, image.tag, image.digest; set"}},
		{name: "the env values' tag is the old repository's",
			file: "helm-guestbook/values-qa.yaml", in: "image:\n  repository: gcr.io/heptio-images/ks-guestbook-demo\n  tag: \"0.1\"\n",
			set:    Set{App: "helm-guestbook", Repo: newRepo, Digest: dig1, Values: &Values{Repository: "image.repository", Tag: "image.tag"}},
			refuse: []string{"image.tag \"0.1\" is gcr.io/heptio-images/ks-guestbook-demo's tag"}},
		{name: "the env values' tag, the image's tag given",
			file: "helm-guestbook/values-qa.yaml", in: "image:\n  repository: gcr.io/heptio-images/ks-guestbook-demo\n  tag: \"0.1\"\n",
			set:  Set{App: "helm-guestbook", Repo: newRepo, Digest: dig1, Tag: "0.2", Values: &Values{Repository: "image.repository", Tag: "image.tag"}},
			want: "image:\n  repository: " + newRepo + "\n  tag: \"0.2@" + dig1 + "\"\n"},
		{name: "Application valuesObject",
			file: "apps/guestbook.yaml", in: "apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata:\n  name: helm-guestbook\nspec:\n  source:\n    helm:\n      valuesObject:\n        image:\n          repository: gcr.io/heptio-images/ks-guestbook-demo\n          tag: \"0.1\"\n",
			set:    Set{App: "helm-guestbook", Repo: newRepo, Digest: dig1},
			refuse: []string{"image.tag \"0.1\" is gcr.io/heptio-images/ks-guestbook-demo's tag"}},
		{name: "Application values string",
			file: "apps/guestbook.yaml", in: "apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata:\n  name: helm-guestbook\nspec:\n  source:\n    helm:\n      values: |\n        image:\n          repository: gcr.io/heptio-images/ks-guestbook-demo\n          tag: \"0.1\"\n",
			set:    Set{App: "helm-guestbook", Repo: newRepo, Digest: dig1},
			refuse: []string{"image.tag \"0.1\" is gcr.io/heptio-images/ks-guestbook-demo's tag"}},
		{name: "Application parameters",
			file: "apps/guestbook.yaml", in: "apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata:\n  name: helm-guestbook\nspec:\n  source:\n    helm:\n      parameters:\n      - name: image.repository\n        value: gcr.io/heptio-images/ks-guestbook-demo\n      - name: image.tag\n        value: \"0.1\"\n",
			set:    Set{App: "helm-guestbook", Repo: newRepo, Digest: dig1},
			refuse: []string{"image.tag \"0.1\" is gcr.io/heptio-images/ks-guestbook-demo's tag"}},
		{name: "Application parameters, no values: the chart's",
			file: "apps/guestbook.yaml", in: "apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata:\n  name: helm-guestbook\nspec:\n  source:\n    helm:\n      parameters: []\n",
			set:  Set{App: "helm-guestbook", Repo: newRepo, Digest: dig1, Tag: "0.2", ChartValues: []byte(chart)},
			want: "apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata:\n  name: helm-guestbook\nspec:\n  source:\n    helm:\n      parameters: [{name: image.repository, value: " + newRepo + ", forceString: true}, {name: image.tag, value: \"0.2@" + dig1 + "\", forceString: true}]\n"},
		{name: "HelmRelease values",
			file: "apps/guestbook.yaml", in: "apiVersion: helm.toolkit.fluxcd.io/v2\nkind: HelmRelease\nmetadata:\n  name: helm-guestbook\nspec:\n  values:\n    image:\n      repository: gcr.io/heptio-images/ks-guestbook-demo\n      tag: \"0.1\"\n",
			set:    Set{App: "helm-guestbook", Repo: newRepo, Digest: dig1},
			refuse: []string{"image.tag \"0.1\" is gcr.io/heptio-images/ks-guestbook-demo's tag"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			out, _, err := Edit(c.file, []byte(c.in), c.set)
			if c.refuse != nil {
				if err == nil {
					t.Fatalf("edited:\n%s", out)
				}
				for _, w := range c.refuse {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("refusal lacks %q: %v", w, err)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if string(out) != c.want {
				t.Fatalf("got:\n%s\nwant:\n%s", out, c.want)
			}
		})
	}
}

package manifest

import (
	"errors"
	"strings"
	"testing"
)

var (
	dig1 = "sha256:" + strings.Repeat("ab", 32)
	dig0 = "sha256:" + strings.Repeat("00", 32)
	set1 = Set{App: "payments", Repo: "ghcr.io/acme/payments", Digest: dig1}
)

// Issue 18: each defect the kyaml round trip had, as the exact bytes an
// edit must produce.
func TestEditIsByteExact(t *testing.T) {
	cases := []struct{ name, in, want string }{
		{"leading comment with ---",
			"# managed by Slipway\n---\nkind: Kustomization\nimages:\n- name: payments\n  newTag: v1\n",
			"# managed by Slipway\n---\nkind: Kustomization\nimages:\n- name: payments\n  newName: ghcr.io/acme/payments\n  digest: " + dig1 + "\n"},
		{"lone ---",
			"---\nkind: Kustomization\nimages:\n- name: ghcr.io/acme/payments\n  digest: " + dig0 + "\n",
			"---\nkind: Kustomization\nimages:\n- name: ghcr.io/acme/payments\n  digest: " + dig1 + "\n"},
		{"leading and inner blank lines",
			"\napiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n\nresources:\n  - ../../base\n\n\nimages:\n  - name: payments\n    newName: ghcr.io/acme/payments\n    digest: " + dig0 + "\n\n",
			"\napiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n\nresources:\n  - ../../base\n\n\nimages:\n  - name: payments\n    newName: ghcr.io/acme/payments\n    digest: " + dig1 + "\n\n"},
		{"%YAML 1.2 directive",
			"%YAML 1.2\n---\nkind: Kustomization\nimages:\n- name: payments\n  newName: ghcr.io/acme/payments\n  digest: " + dig0 + "\n",
			"%YAML 1.2\n---\nkind: Kustomization\nimages:\n- name: payments\n  newName: ghcr.io/acme/payments\n  digest: " + dig1 + "\n"},
		{"no redundant newName, fixed key order",
			"kind: Kustomization\nimages:\n  - name: ghcr.io/acme/payments\n    newTag: v1\n",
			"kind: Kustomization\nimages:\n  - name: ghcr.io/acme/payments\n    digest: " + dig1 + "\n"},
		{"flow style",
			"kind: Kustomization\nimages: [{name: payments, digest: " + dig0 + "}]\n",
			"kind: Kustomization\nimages: [{name: payments, newName: ghcr.io/acme/payments, digest: " + dig1 + "}]\n"},
		{"quoted scalars keep their quotes",
			"kind: Kustomization\nimages:\n- name: \"payments\"\n  newName: 'ghcr.io/acme/old'\n  newTag: \"1.0\"\n",
			"kind: Kustomization\nimages:\n- name: \"payments\"\n  newName: 'ghcr.io/acme/payments'\n  digest: \"" + dig1 + "\"\n"},
		{"component",
			"apiVersion: kustomize.config.k8s.io/v1alpha1\nkind: Component\nimages:\n- name: payments # the app\n  newTag: v1 # pinned\n",
			"apiVersion: kustomize.config.k8s.io/v1alpha1\nkind: Component\nimages:\n- name: payments # the app\n  newName: ghcr.io/acme/payments\n  digest: " + dig1 + "\n"},
		{"CRLF and BOM",
			"\ufeffkind: Kustomization\r\n# keep\r\nimages:\r\n  - name: payments\r\n    newTag: v1\r\n",
			"\ufeffkind: Kustomization\r\n# keep\r\nimages:\r\n  - name: payments\r\n    newName: ghcr.io/acme/payments\r\n    digest: " + dig1 + "\r\n"},
		{"mixed indentation deployment",
			mixedDeployment("ghcr.io/acme/payments:v1"), mixedDeployment("ghcr.io/acme/payments@" + dig1)},
		{"anchors and tags",
			"kind: Kustomization\nimages:\n- name: payments\n  newName: &repo !!str ghcr.io/acme/old\n  digest: " + dig0 + "\n",
			"kind: Kustomization\nimages:\n- name: payments\n  newName: &repo !!str ghcr.io/acme/payments\n  digest: " + dig1 + "\n"},
		{"newTag first on the dash line",
			"kind: Kustomization\nimages:\n- newTag: v1\n  name: payments\n",
			"kind: Kustomization\nimages:\n- name: payments\n  newName: ghcr.io/acme/payments\n  digest: " + dig1 + "\n"},
		{"no trailing newline",
			"kind: Kustomization\nimages:\n- name: ghcr.io/acme/payments",
			"kind: Kustomization\nimages:\n- name: ghcr.io/acme/payments\n  digest: " + dig1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			out, res, err := Edit("kustomization.yaml", []byte(c.in), set1)
			if err != nil {
				t.Fatal(err)
			}
			if string(out) != c.want {
				t.Fatalf("got:\n%s\nwant:\n%s", out, c.want)
			}
			if !res.Changed || len(res.Lines) == 0 {
				t.Errorf("result %+v", res)
			}
			// The same digest again: unchanged, the same bytes.
			again, res2, err := Edit("kustomization.yaml", out, set1)
			if err != nil || res2.Changed || string(again) != string(out) {
				t.Errorf("second edit: changed=%v err=%v\n%s", res2.Changed, err, again)
			}
		})
	}
}

func mixedDeployment(image string) string {
	return `apiVersion: apps/v1
kind: Deployment
metadata:
  name: payments
spec:
  template:
    spec:
      containers:
      - name: payments
        image: ` + image + `
        args:
            - --port=8080
            # - --debug
            - --log=json
        ports:
          - containerPort: 8080
        env:
        -   name: A
            value: "1"
`
}

func TestEditReportsEveryCandidate(t *testing.T) {
	in := "kind: Kustomization\nimages:\n- name: twoimg\n  newTag: v1\n- name: ghcr.io/acme/twoimg\n  newTag: v1\n"
	_, res, err := Edit("kustomization.yaml", []byte(in), Set{App: "twoimg", Repo: "ghcr.io/acme/twoimg", Digest: dig1})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Candidates) != 2 || res.Candidates[0].Name != "twoimg" || res.Candidates[1].Name != "ghcr.io/acme/twoimg" || res.Candidates[1].Line != 5 {
		t.Errorf("candidates %+v", res.Candidates)
	}
}

func TestAddImageKeepsStyle(t *testing.T) {
	cases := []struct{ name, in, want string }{
		{"new list, indented sequences",
			"kind: Kustomization\nresources:\n  - ../../base # base\n\n# trailing comment\n",
			"kind: Kustomization\nresources:\n  - ../../base # base\n\n# trailing comment\nimages:\n  - name: app\n    newName: ghcr.io/acme/payments\n    digest: " + dig1 + "\n"},
		{"existing list",
			"kind: Kustomization\nimages:\n-   name: other\n    newTag: v1\n",
			"kind: Kustomization\nimages:\n-   name: other\n    newTag: v1\n-   name: app\n    newName: ghcr.io/acme/payments\n    digest: " + dig1 + "\n"},
		{"flow list",
			"kind: Kustomization\nimages: [{name: other, newTag: v1}]\n",
			"kind: Kustomization\nimages: [{name: other, newTag: v1}, {name: app, newName: ghcr.io/acme/payments, digest: " + dig1 + "}]\n"},
	}
	for _, c := range cases {
		out, _, err := AddImage("kustomization.yaml", []byte(c.in), "app", set1)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if string(out) != c.want {
			t.Errorf("%s: got:\n%s\nwant:\n%s", c.name, out, c.want)
		}
	}
}

func TestEditErrorsNameTheFile(t *testing.T) {
	_, _, err := Edit("k.yaml", []byte("kind: Kustomization\nimages:\n  - name: web\n"), set1)
	if !errors.Is(err, ErrNoMatch) || !strings.Contains(err.Error(), "k.yaml") || !strings.Contains(err.Error(), "images[name=web]") {
		t.Errorf("%v", err)
	}
}

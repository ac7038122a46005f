package manifest

import (
	"strings"
	"testing"
)

// TestEditFillsAnEmptyDigest (finding 7): an empty `digest:` (at the end,
// with a comment, with keys after it, CRLF) is written in place.
func TestEditFillsAnEmptyDigest(t *testing.T) {
	s := Set{App: "web", Repo: "reg.example.com/acme/web", Digest: dig1}
	for _, tc := range []struct{ in, want string }{
		{"images:\n- name: ghcr.io/acme/web\n  newName: reg.example.com/acme/web\n  digest:\n",
			"images:\n- name: ghcr.io/acme/web\n  newName: reg.example.com/acme/web\n  digest: " + dig1 + "\n"},
		{"images:\n- name: ghcr.io/acme/web\n  newName: reg.example.com/acme/web\n  digest: # set by CI\n",
			"images:\n- name: ghcr.io/acme/web\n  newName: reg.example.com/acme/web\n  digest: " + dig1 + " # set by CI\n"},
		{"images:\n- name: ghcr.io/acme/web\n  newName: reg.example.com/acme/web\n  digest:\n- name: other\n  newTag: x\n",
			"images:\n- name: ghcr.io/acme/web\n  newName: reg.example.com/acme/web\n  digest: " + dig1 + "\n- name: other\n  newTag: x\n"},
		{"images:\n  - name: ghcr.io/acme/web\n    digest:\n    newName: reg.example.com/acme/web\n",
			"images:\n  - name: ghcr.io/acme/web\n    digest: " + dig1 + "\n    newName: reg.example.com/acme/web\n"},
		{"images:\r\n- name: ghcr.io/acme/web\r\n  newName: reg.example.com/acme/web\r\n  digest:\r\n",
			"images:\r\n- name: ghcr.io/acme/web\r\n  newName: reg.example.com/acme/web\r\n  digest: " + dig1 + "\r\n"},
		{"images:\n- name: ghcr.io/acme/web\n  newName: reg.example.com/acme/web\n  digest:   \n",
			"images:\n- name: ghcr.io/acme/web\n  newName: reg.example.com/acme/web\n  digest: " + dig1 + "\n"},
	} {
		out, _, err := Edit("kustomization.yaml", []byte(tc.in), s)
		if err != nil {
			t.Errorf("%q: %v", tc.in, err)
			continue
		}
		if string(out) != tc.want {
			t.Errorf("%q:\ngot  %q\nwant %q", tc.in, out, tc.want)
		}
	}
}

// TestEditRemovesANameMarkerWhenTheRepositoryChanges (finding 5): a Flux
// :name marker would write the policy's image name back over the new
// repository: it goes, and the result says so.
func TestEditRemovesANameMarkerWhenTheRepositoryChanges(t *testing.T) {
	s := Set{App: "web", Repo: "reg.example.com/acme/web", Digest: dig1}
	in := "images:\n- name: ghcr.io/acme/web\n  newName: ghcr.io/acme/web # {\"$imagepolicy\": \"flux-system:web:name\"}\n"
	out, res, err := Edit("kustomization.yaml", []byte(in), s)
	if err != nil {
		t.Fatal(err)
	}
	if want := "images:\n- name: ghcr.io/acme/web\n  newName: reg.example.com/acme/web\n  digest: " + dig1 + "\n"; string(out) != want || len(res.Notes) != 1 || !strings.Contains(res.Notes[0], "flux-system:web:name") {
		t.Fatalf("%q %v", out, res.Notes)
	}
	// The same repository: the marker stays.
	in = "images:\n- name: ghcr.io/acme/web\n  newName: reg.example.com/acme/web # {\"$imagepolicy\": \"flux-system:web:name\"}\n"
	out, res, err = Edit("kustomization.yaml", []byte(in), s)
	if err != nil || !strings.Contains(string(out), "flux-system:web:name") || len(res.Notes) != 0 {
		t.Fatalf("%q %v %v", out, res.Notes, err)
	}
}

// TestHelmRemovesANameMarkerWhenTheRepositoryChanges (finding 5, Flux's
// podinfo-values.yaml): the :name marker on image.repository goes when the
// repository changes, with a note.
func TestHelmRemovesANameMarkerWhenTheRepositoryChanges(t *testing.T) {
	in := "image:\n  repository: ghcr.io/stefanprodan/podinfo # {\"$imagepolicy\": \"flux-system:podinfo:name\"}\n  tag: 6.7.0\n"
	out, res, err := Edit("values.yaml", []byte(in), Set{App: "podinfo", Repo: "reg.example.com/acme/podinfo", Digest: dig1, Tag: "6.7.0"})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(out), "$imagepolicy") || len(res.Notes) == 0 || !strings.Contains(strings.Join(res.Notes, " "), "flux-system:podinfo:name") {
		t.Fatalf("%q %v", out, res.Notes)
	}
}

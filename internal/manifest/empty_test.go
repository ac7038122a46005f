package manifest

import (
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

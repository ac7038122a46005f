// Package secret reads Slipway's secret inputs. A key variable
// (SLIPWAY_SIGNING_KEY, GITOPS_SSH_KEY_FILE, GITOPS_GPG_KEY_FILE, …) may
// hold a path to a key file, the key itself (a PEM or armored block, as a CI
// secret), or that block base64-encoded (`base64 -w0 team.key`). Key tells
// them apart, and its errors name the variable and the forms it accepts,
// never the value: a value that is not the path of an existing file may be
// the key, and an error is printed.
package secret

import (
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
)

// maxPath is the longest value tried as a file path (PATH_MAX).
const maxPath = 4096

// maxKey bounds a key file Slipway reads (a key is a few KiB).
const maxKey = 1 << 20

// Key reads the key material of the variable name, whose value is v: the
// file v names, the PEM or armored block v holds (also with its newlines
// written as `\n`), or that block base64-encoded. from says which for
// messages: "file PATH", "the PEM in NAME" or "the base64 PEM in NAME".
// A file's path is not secret and may appear in errors; nothing else of v
// ever does.
func Key(name, v string) (data []byte, from string, err error) {
	t := strings.TrimSpace(v)
	if t == "" {
		return nil, "", fmt.Errorf("%s is empty; set it to a key file's path or to the PEM content", name)
	}
	if isPEM(t) {
		return []byte(unescapeNewlines(t) + "\n"), "the PEM in " + name, nil
	}
	if len(t) <= maxPath && !strings.ContainsAny(t, "\n\x00") {
		if st, err := os.Stat(t); err == nil {
			// An existing file: v is a path, and a path is not secret.
			if st.IsDir() {
				return nil, "", fmt.Errorf("%s: %s is a directory; point it at the key file", name, t)
			}
			if st.Size() > maxKey {
				return nil, "", fmt.Errorf("%s: %s is %d bytes, not a key file; point it at the key file", name, t, st.Size())
			}
			data, err := os.ReadFile(t)
			if err != nil {
				return nil, "", fmt.Errorf("%s: cannot read %s: %w", name, t, reason(err))
			}
			return data, "file " + t, nil
		}
	}
	oneLine := strings.Join(strings.Fields(t), "")
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if dec, err := enc.DecodeString(oneLine); err == nil && isPEM(strings.TrimSpace(string(dec))) {
			return []byte(unescapeNewlines(strings.TrimSpace(string(dec))) + "\n"), "the base64 PEM in " + name, nil
		}
	}
	return nil, "", fmt.Errorf("%s: neither a readable file nor a PEM key (the value is not shown); set it to the key file's path or to the PEM content", name)
}

func isPEM(s string) bool { return strings.HasPrefix(s, "-----BEGIN ") }

// unescapeNewlines turns a block pasted on one line with literal `\n`
// (a CI secret field, a JSON value) back into lines.
func unescapeNewlines(s string) string {
	if strings.Contains(s, "\n") || !strings.Contains(s, `\n`) {
		return s
	}
	return strings.ReplaceAll(s, `\n`, "\n")
}

// reason is a file error without its path.
func reason(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// Variables are the environment variables whose values Slipway treats as
// secret (a redactor learns them at start). Variables ending in _FILE and
// SLIPWAY_SIGNING_KEY may name a file instead: then the file's content is
// the secret, not the path.
var Variables = []string{
	"REGISTRY_PASSWORD",
	"GITOPS_TOKEN",
	"GITOPS_SSH_KEY_FILE",
	"GITOPS_SSH_KEY_PASSPHRASE",
	"GITOPS_GPG_KEY_FILE",
	"GITOPS_GPG_PASSPHRASE",
	"GITOPS_SSH_SIGNING_KEY_FILE",
	"SLIPWAY_SIGNING_KEY",
	"SLIPWAY_SIGNING_KEY_PASSWORD",
	"TRIVY_PASSWORD",
	"GITHUB_TOKEN",
	"ACTIONS_ID_TOKEN_REQUEST_TOKEN",
	"ARGOCD_AUTH_TOKEN",
}

// MayBeFile reports whether the variable may name a file holding the secret.
func MayBeFile(name string) bool {
	return strings.HasSuffix(name, "_FILE") || name == "SLIPWAY_SIGNING_KEY"
}

// Values are the secret values of the variables names (and of the files
// those that may name a file name), as getenv gives them.
func Values(getenv func(string) string, names ...string) []string {
	var out []string
	for _, n := range names {
		v := getenv(n)
		if v == "" {
			continue
		}
		if MayBeFile(n) {
			t := strings.TrimSpace(v)
			if len(t) <= maxPath && !strings.ContainsAny(t, "\n\x00") {
				if st, err := os.Stat(t); err == nil {
					// An existing path (a file, a directory, /dev/null) is
					// a path, not a secret: messages name it (see Key); a
					// key file's content is the secret.
					if st.Mode().IsRegular() && st.Size() <= maxKey {
						if data, err := os.ReadFile(t); err == nil {
							out = append(out, string(data))
						}
					}
					continue
				}
			}
		}
		out = append(out, v)
	}
	return out
}

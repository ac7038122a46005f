package redact

import (
	"net/url"
	"regexp"
	"strings"
)

// userinfoRE finds the userinfo of every URL in free text:
// scheme://USERINFO@host. Like urlCredsRE it runs to the last '@' before
// whitespace, a quote or the end of the authority's line, so a password
// holding ':' or '@' is caught whole.
var userinfoRE = regexp.MustCompile(`[A-Za-z][A-Za-z0-9+.-]*://([^\s"'<>/?#]*)@`)

// URLSecrets are the credentials the URLs in text carry, in the forms a
// server or a library may echo them: the userinfo as written,
// percent-decoded and re-encoded, the password alone (each way) and, for a userinfo
// without a password (https://TOKEN@host), the user, which is then the
// token. Added to a Set, each also covers its base64 forms, so an echoed
// `Authorization: Basic …` header is caught too. A user name next to a
// password is not secret and is not returned on its own.
func URLSecrets(text string) []string {
	var out []string
	for _, m := range userinfoRE.FindAllStringSubmatch(text, -1) {
		info := m[1]
		if info == "" {
			continue
		}
		user, pass, hasPass := strings.Cut(info, ":")
		// Each value as written, decoded, and re-encoded the other ways a
		// client or server spells it (a query string's '+' for a space).
		add := func(raw string) {
			out = append(out, raw)
			for _, unescape := range []func(string) (string, error){url.PathUnescape, url.QueryUnescape} {
				if dec, err := unescape(raw); err == nil {
					out = append(out, dec, url.QueryEscape(dec), url.PathEscape(dec))
				}
			}
		}
		if !hasPass {
			add(user)
			continue
		}
		add(info)
		if pass != "" {
			add(pass)
		}
	}
	return out
}

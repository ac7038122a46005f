// Package redact removes secret values from errors before anyone prints them.
// Registry and git libraries sometimes echo URLs or responses that carry the
// credentials they were given; every error Slipway returns from code that held
// a secret goes through Error.
package redact

import (
	"errors"
	"regexp"
	"strings"
)

// minLen keeps very short values (a user name like "git") from shredding
// unrelated text; real passwords and tokens are longer.
const minLen = 4

// Error returns err with every occurrence of each secret replaced by "***".
// errors.Is still sees the original chain (for sentinels such as ErrAuth);
// Unwrap is not offered, so the unredacted text cannot be reached by printing.
func Error(err error, secrets ...string) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	changed := false
	for _, s := range secrets {
		if len(s) >= minLen && strings.Contains(msg, s) {
			msg, changed = strings.ReplaceAll(msg, s, "***"), true
		}
	}
	if !changed {
		return err
	}
	return &redacted{msg: msg, err: err}
}

type redacted struct {
	msg string
	err error
}

func (r *redacted) Error() string        { return r.msg }
func (r *redacted) Is(target error) bool { return errors.Is(r.err, target) }

// urlCredsRE finds the userinfo of URLs in free text: scheme://USERINFO@.
// The userinfo runs to the last '@' before whitespace or a quote, so a
// password holding '/', ':' or '@' is still caught whole.
var urlCredsRE = regexp.MustCompile(`([A-Za-z][A-Za-z0-9+.-]*://)[^\s"'<>]*@`)

// URLCredentials replaces the credentials of every URL in s with "***".
func URLCredentials(s string) string {
	return urlCredsRE.ReplaceAllString(s, "${1}***@")
}

// String replaces every occurrence of each secret in s with "***".
func String(s string, secrets ...string) string {
	for _, sec := range secrets {
		if len(sec) >= minLen {
			s = strings.ReplaceAll(s, sec, "***")
		}
	}
	return s
}

// Package redact removes secret values from errors before anyone prints them.
// Registry and git libraries sometimes echo URLs or responses that carry the
// credentials they were given; every error Slipway returns from code that held
// a secret goes through Error.
package redact

import (
	"errors"
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

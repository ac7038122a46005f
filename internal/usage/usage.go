// Package usage marks errors the user fixes by changing the command line or
// the configuration: a flag value that is not valid, a name that does not
// exist, a missing setting. Whichever package finds such a problem wraps it
// here, and the CLI exits 2 for it (1 is for failures and refusals), so the
// exit code follows what the error is, not where it was found.
package usage

import (
	"errors"
	"fmt"
)

// Error is a usage or configuration error; its message is the wrapped error's.
type Error struct{ Err error }

func (e *Error) Error() string { return e.Err.Error() }

// Unwrap gives the wrapped error to errors.Is and errors.As.
func (e *Error) Unwrap() error { return e.Err }

// Errorf formats a usage error (%w wraps as in fmt.Errorf).
func Errorf(format string, a ...any) error {
	return &Error{Err: fmt.Errorf(format, a...)}
}

// Wrap marks err as a usage error; nil stays nil.
func Wrap(err error) error {
	if err == nil {
		return nil
	}
	return &Error{Err: err}
}

// Is reports whether err, or an error it wraps, is a usage error.
func Is(err error) bool {
	var u *Error
	return errors.As(err, &u)
}

package redact

import (
	"errors"
	"fmt"
	"testing"
)

var errSentinel = errors.New("auth failed")

func TestError(t *testing.T) {
	err := fmt.Errorf("GET https://bot:hunter2-token@host/x: %w", errSentinel)
	got := Error(err, "hunter2-token", "", "git")
	if got.Error() != "GET https://bot:***@host/x: auth failed" {
		t.Errorf("got %q", got)
	}
	if !errors.Is(got, errSentinel) {
		t.Error("sentinel lost")
	}
	if errors.Unwrap(got) != nil {
		t.Error("unredacted error reachable through Unwrap")
	}
	if plain := errors.New("nothing secret"); Error(plain, "hunter2-token") != plain {
		t.Error("an error with no secret should come back as is")
	}
	if Error(nil, "x") != nil {
		t.Error("nil")
	}
}

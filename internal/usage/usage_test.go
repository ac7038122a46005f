package usage

import (
	"errors"
	"fmt"
	"io/fs"
	"testing"
)

func TestIsThroughWrapping(t *testing.T) {
	base := Errorf("app %q: want a lowercase name", "../x")
	wrapped := fmt.Errorf("deploy: %w", base)
	if !Is(base) || !Is(wrapped) || Is(errors.New("x")) || Is(nil) {
		t.Error("Is does not follow the chain")
	}
	if wrapped.Error() != `deploy: app "../x": want a lowercase name` {
		t.Errorf("message %q: a usage error adds no words", wrapped)
	}
	if err := Wrap(fmt.Errorf("open: %w", fs.ErrNotExist)); !errors.Is(err, fs.ErrNotExist) || !Is(err) {
		t.Error("Wrap hides the wrapped error")
	}
	if Wrap(nil) != nil {
		t.Error("Wrap(nil) != nil")
	}
}

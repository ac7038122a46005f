package pipeline

import (
	"os"
	"path/filepath"
)

// OutIgnore is the .gitignore Slipway writes into an output directory it
// creates: its output is never a change to the source tree (a checkout
// whose .gitignore does not list out/ stays clean, so CI still publishes
// and local builds are not tagged -dirty).
const OutIgnore = "# Slipway's output directory: never part of the source tree.\n*\n"

// EnsureOut creates the output directory dir if it is missing and writes
// a .gitignore holding "*" into the topmost directory it creates. An
// existing directory is left as it is.
func EnsureOut(dir string) error {
	if _, err := os.Stat(dir); err == nil {
		return nil
	}
	top := filepath.Clean(dir)
	for {
		parent := filepath.Dir(top)
		if parent == top {
			break
		}
		if _, err := os.Stat(parent); err == nil {
			break
		}
		top = parent
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(top, ".gitignore"), []byte(OutIgnore), 0o644)
}

// Package outdir is the one way Slipway creates its output directory (out/)
// and anything under it: whichever command creates it first writes the
// .gitignore that keeps every file in it (the development signing key,
// provenance, reports, the local registry and GitOps repository) out of
// `git add -A`.
package outdir

import (
	"os"
	"path/filepath"
	"strings"
)

// Ignore is the .gitignore Slipway writes into an output directory it
// creates: its output is never a change to the source tree (a checkout
// whose .gitignore does not list out/ stays clean, so CI still publishes
// and local builds are not tagged -dirty).
const Ignore = "# Slipway's output directory: never part of the source tree.\n*\n"

// Ensure creates the output directory dir if it is missing and writes a
// .gitignore holding "*" into the topmost directory it creates (build/ for
// --out build/artifacts when build/ did not exist). An existing directory is
// left as it is.
func Ensure(dir string) error {
	if dir == "" {
		dir = "."
	}
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
	return os.WriteFile(filepath.Join(top, ".gitignore"), []byte(Ignore), 0o644)
}

// Within reports whether path is the output directory out or under it
// (compared as absolute, cleaned paths: "./out/", "out" and /abs/out agree).
func Within(out, path string) bool {
	o, err1 := filepath.Abs(out)
	p, err2 := filepath.Abs(path)
	if err1 != nil || err2 != nil {
		return false
	}
	return p == o || strings.HasPrefix(p, o+string(os.PathSeparator))
}

// MkdirAll creates dir as os.MkdirAll does; when dir is in the output
// directory out, out is created first through Ensure (with its .gitignore).
func MkdirAll(out, dir string, perm os.FileMode) error {
	if Within(out, dir) {
		if err := Ensure(out); err != nil {
			return err
		}
	}
	return os.MkdirAll(dir, perm)
}

// WriteFile writes data to path as os.WriteFile does, creating its directory
// through MkdirAll (so a file in out/ never lands in an out/ without its
// .gitignore).
func WriteFile(out, path string, data []byte, perm os.FileMode) error {
	if err := MkdirAll(out, filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return os.WriteFile(path, data, perm)
}

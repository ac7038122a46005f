package pipeline

import "github.com/slipway-ci/slipway/internal/outdir"

// OutIgnore is the .gitignore Slipway writes into an output directory it
// creates (outdir.Ignore).
const OutIgnore = outdir.Ignore

// EnsureOut creates the output directory dir if it is missing, with its
// .gitignore (outdir.Ensure).
func EnsureOut(dir string) error { return outdir.Ensure(dir) }

package cli

import (
	"github.com/spf13/pflag"

	"github.com/slipway-ci/slipway/internal/manifest"
)

// bindHelmValueFlag binds the repeatable --helm-value ROLE=PATH flag of
// deploy and promote.
func bindHelmValueFlag(f *pflag.FlagSet, dst *[]string) {
	f.StringArrayVar(dst, "helm-value", nil, "where a Helm chart takes the image, ROLE=PATH (repeatable): repository=image.repository, digest=image.digest, tag=image.tag (a chart that only takes a tag gets TAG@sha256:…), image=PATH (the whole reference); default: image.repository, image.tag, image.digest where the values have them")
}

// helmValues parses --helm-value flags, falling back to the app's Go configuration.
func helmValues(flags []string, fallback *manifest.Values) (*manifest.Values, error) {
	if len(flags) == 0 {
		return fallback, nil
	}
	v, err := manifest.ParseValues(flags)
	if err != nil {
		return nil, usageErr("%v", err)
	}
	return v, nil
}

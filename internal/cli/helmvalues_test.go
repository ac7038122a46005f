package cli

import (
	"errors"
	"strings"
	"testing"

	"github.com/slipway-ci/slipway/internal/manifest"
)

func TestHelmValueFlags(t *testing.T) {
	v, err := helmValues([]string{"repository=image.repository", "digest=image.digest"}, nil)
	if err != nil || *v != (manifest.Values{Repository: "image.repository", Digest: "image.digest"}) {
		t.Errorf("%+v %v", v, err)
	}
	fallback := &manifest.Values{Digest: "app.digest"}
	if v, err := helmValues(nil, fallback); err != nil || v != fallback {
		t.Errorf("no flags: want the Go configuration's paths, got %+v %v", v, err)
	}
	for _, bad := range [][]string{{"digest"}, {"colour=image.tag"}, {"digest=image..x"}, {"repository=image.repository"}, {"digest=a.b", "digest=c.d"}} {
		_, err := helmValues(bad, nil)
		var ee *exitError
		if !errors.As(err, &ee) || ee.code != 2 || !strings.Contains(err.Error(), "--helm-value") && !strings.Contains(err.Error(), "helm value paths") {
			t.Errorf("%v: %v", bad, err)
		}
	}
}

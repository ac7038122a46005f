package manifest

import (
	"strings"
	"testing"
)

// TestDigestValueAloneWritesTheRepository (issue 18, finding 7): with only
// --helm-value digest=image.digest, the repository goes to image.repository
// where the values or the chart's values.yaml have it — else the chart
// would render the old repository with the new digest.
func TestDigestValueAloneWritesTheRepository(t *testing.T) {
	const dig = "sha256:1111111111111111111111111111111111111111111111111111111111111111"
	for _, tc := range []struct {
		name, values, chart, want string
	}{
		{"in the values", "image:\n  repository: ghcr.io/old/web\n  digest: \"\"\n", "", "image:\n  repository: ghcr.io/acme/web\n  digest: \"" + dig + "\"\n"},
		{"in the chart", "replicaCount: 2\n", "image:\n  repository: ghcr.io/old/web\n  digest: \"\"\n", "replicaCount: 2\nimage:\n  repository: ghcr.io/acme/web\n  digest: " + dig + "\n"},
		{"nowhere", "replicaCount: 2\n", "", "replicaCount: 2\nimage:\n  digest: " + dig + "\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := Set{App: "web", Repo: "ghcr.io/acme/web", Digest: dig, Helm: true, Values: &Values{Digest: "image.digest"}}
			if tc.chart != "" {
				s.ChartValues = []byte(tc.chart)
			}
			out, _, err := Edit("values-prod.yaml", []byte(tc.values), s)
			if err != nil {
				t.Fatal(err)
			}
			if string(out) != tc.want {
				t.Errorf("got\n%s\nwant\n%s", out, strings.TrimSpace(tc.want))
			}
		})
	}
}

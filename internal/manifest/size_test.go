package manifest

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// An edit costs time in proportion to the file (a parse, a splice, a
// read-back): a 1 MB kustomization with 10,000 entries.
func TestEditLargeFileIsLinear(t *testing.T) {
	if testing.Short() {
		t.Skip("large file")
	}
	var b strings.Builder
	b.WriteString("apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nimages:\n")
	for i := 0; b.Len() < 1<<20; i++ {
		fmt.Fprintf(&b, "  - name: other-%d # c\n    newName: registry.example.com/other-%d\n    newTag: v%d\n", i, i, i)
	}
	b.WriteString("  - name: payments\n    newTag: v1\n")
	start := time.Now()
	out, res, err := Edit("kustomization.yaml", []byte(b.String()), set1)
	took := time.Since(start)
	if err != nil || !res.Changed || len(res.Lines) != 1 || len(out) < b.Len() {
		t.Fatalf("%v %+v", err, res.Lines)
	}
	t.Logf("%d MB kustomization: %s", b.Len()>>20, took)
	if took > 20*time.Second {
		t.Errorf("edit of a 1 MB file took %s", took)
	}
}

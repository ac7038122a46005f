package manifest

import (
	"fmt"
	"strings"
	"testing"
)

// A 1 MB kustomization with 10,000 other entries still edits one line; how
// long it takes is measured by BenchmarkEditLargeFile, not asserted here.
func TestEditLargeFileIsLinear(t *testing.T) {
	if testing.Short() {
		t.Skip("large file")
	}
	data := largeKustomization()
	out, res, err := Edit("kustomization.yaml", data, set1)
	if err != nil || !res.Changed || len(res.Lines) != 1 || len(out) < len(data) {
		t.Fatalf("%v %+v", err, res.Lines)
	}
}

func BenchmarkEditLargeFile(b *testing.B) {
	data := largeKustomization()
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, _, err := Edit("kustomization.yaml", data, set1); err != nil {
			b.Fatal(err)
		}
	}
}

func largeKustomization() []byte {
	var b strings.Builder
	b.WriteString("apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nimages:\n")
	for i := 0; b.Len() < 1<<20; i++ {
		fmt.Fprintf(&b, "  - name: other-%d # c\n    newName: registry.example.com/other-%d\n    newTag: v%d\n", i, i, i)
	}
	b.WriteString("  - name: payments\n    newTag: v1\n")
	return []byte(b.String())
}

// Package helm renders Helm charts with the Helm SDK (helm.sh/helm/v3, the
// library Argo CD renders charts with), for Slipway's proof that a deploy
// changes what the cluster will run. It is its own package because the SDK
// is heavy (about 200 more packages to compile, most of them Kubernetes API
// types): a pipeline whose GitOps repository holds charts links it,
//
//	slipway.Main(slipway.Config{GitOps: slipway.GitOps{Charts: helm.Render}, …})
//
// and one that only uses kustomize does not pay for it. The slipway binary
// links it.
package helm

import (
	"context"
	"fmt"
	"io/fs"
	"sort"
	"strings"

	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/engine"
)

// Render is `helm template RELEASE CHART --namespace NAMESPACE` with user
// values laid over the chart's values.yaml: the chart's files are read from
// chart (rooted at the directory holding Chart.yaml; dependencies under
// charts/), and the manifests come back as one YAML stream, templates in
// name order. No cluster is contacted (lookup returns nothing), as in Argo
// CD's and Flux's offline renders.
func Render(ctx context.Context, chart fs.FS, values map[string]any, release, namespace string) ([]byte, error) {
	var files []*loader.BufferedFile
	err := fs.WalkDir(chart, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if d.IsDir() {
			return nil
		}
		data, err := fs.ReadFile(chart, p)
		if err != nil {
			return err
		}
		files = append(files, &loader.BufferedFile{Name: p, Data: data})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read chart: %w", err)
	}
	ch, err := loader.LoadFiles(files)
	if err != nil {
		return nil, fmt.Errorf("load chart: %w", err)
	}
	if values == nil {
		values = map[string]any{}
	}
	if err := chartutil.ProcessDependenciesWithMerge(ch, values); err != nil {
		return nil, fmt.Errorf("chart dependencies: %w", err)
	}
	opts := chartutil.ReleaseOptions{Name: release, Namespace: namespace, Revision: 1, IsInstall: true}
	vals, err := chartutil.ToRenderValues(ch, values, opts, chartutil.DefaultCapabilities)
	if err != nil {
		return nil, fmt.Errorf("values: %w", err)
	}
	out, err := engine.Render(ch, vals)
	if err != nil {
		return nil, err
	}
	names := make([]string, 0, len(out))
	for n, s := range out {
		if strings.HasSuffix(n, "NOTES.txt") || strings.TrimSpace(s) == "" {
			continue
		}
		names = append(names, n)
	}
	sort.Strings(names)
	var b strings.Builder
	for _, n := range names {
		fmt.Fprintf(&b, "---\n# Source: %s\n%s\n", n, out[n])
	}
	return []byte(b.String()), nil
}

package scan

import (
	"encoding/json"
	"fmt"
	"io"
	"testing"
	"time"
)

// bigReport replicates the real report's findings to n in all, across many
// targets and packages.
func bigReport(b *testing.B, n int) []byte {
	b.Helper()
	src := load(b, "image.json")
	var vulns []Vulnerability
	var secrets []Secret
	var misconf []Misconf
	for _, r := range src.Results {
		vulns = append(vulns, r.Vulnerabilities...)
		secrets = append(secrets, r.Secrets...)
		misconf = append(misconf, r.Misconfigurations...)
	}
	out := &Report{SchemaVersion: 2, ArtifactName: "big", ArtifactType: "container_image"}
	count := 0
	for t := 0; count < n; t++ {
		res := Result{Target: fmt.Sprintf("usr/lib/app%03d", t), Class: "lang-pkgs", Type: "gobinary"}
		for i := 0; i < 100 && count < n; i++ {
			switch i % 10 {
			case 0:
				res.Secrets = append(res.Secrets, secrets[0])
			case 1, 2:
				m := misconf[i%len(misconf)]
				res.Misconfigurations = append(res.Misconfigurations, m)
			default:
				v := vulns[i%len(vulns)]
				v.VulnerabilityID = fmt.Sprintf("CVE-2026-%05d", count)
				v.PkgName = fmt.Sprintf("example.com/mod%d", i)
				res.Vulnerabilities = append(res.Vulnerabilities, v)
			}
			count++
		}
		out.Results = append(out.Results, res)
	}
	data, err := json.Marshal(out)
	if err != nil {
		b.Fatal(err)
	}
	return data
}

// BenchmarkGate20k parses a 20,000-finding report and applies the gate with
// 100 ignore rules (targets: < 100 ms, < 50 MB allocated per op).
func BenchmarkGate20k(b *testing.B) {
	data := bigReport(b, 20000)
	ig := &Ignores{}
	for i := 0; i < 100; i++ {
		ig.Rules = append(ig.Rules, IgnoreRule{ID: fmt.Sprintf("CVE-2026-%05d", i*7), Source: "bench"})
	}
	opts := Options{Ignores: ig, IgnoreUnfixed: true, Now: time.Now()}
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		r, err := Parse("big.json", data)
		if err != nil {
			b.Fatal(err)
		}
		o := Evaluate(r, opts)
		if len(o.Counted) == 0 {
			b.Fatal("nothing counted")
		}
	}
}

// BenchmarkGate20kWithSARIF adds the SARIF output of what was counted.
func BenchmarkGate20kWithSARIF(b *testing.B) {
	data := bigReport(b, 20000)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		r, _ := Parse("big.json", data)
		o := Evaluate(r, Options{Now: time.Now()})
		if err := WriteSARIF(io.Discard, o, ""); err != nil {
			b.Fatal(err)
		}
	}
}

package dag

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// The combined scan script runs both commands, keeps their outputs apart and
// fails naming the command that failed (run here with sh and stand-in
// commands: the script's logic is plain shell).
func TestScanScript(t *testing.T) {
	if _, err := exec.LookPath("sh"); err != nil {
		t.Skip("needs sh")
	}
	dir := t.TempDir()
	ok := []string{"sh", "-c", "echo image-ok > " + filepath.Join(dir, "i")}
	okCfg := []string{"sh", "-c", "echo \"config's ok\" > " + filepath.Join(dir, "c")}
	fail := []string{"sh", "-c", "echo boom >&2; exit 3"}
	okBom := []string{"sh", "-c", "test -f " + filepath.Join(dir, "i") + " && echo bom > " + filepath.Join(dir, "b")}
	out, err := exec.Command("sh", "-c", scanScript(ok, okCfg, okBom)).CombinedOutput()
	if err != nil {
		t.Fatalf("all pass: %v %s", err, out)
	}
	for _, f := range []string{"i", "c", "b"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("%s did not run", f)
		}
	}
	out, err = exec.Command("sh", "-c", scanScript(ok, fail, okBom)).CombinedOutput()
	if err == nil || !strings.Contains(string(out), "trivy config exited 3") || !strings.Contains(string(out), "boom") {
		t.Errorf("config fails: %v %s", err, out)
	}
	out, err = exec.Command("sh", "-c", scanScript(ok, okCfg, fail)).CombinedOutput()
	if err == nil || !strings.Contains(string(out), "trivy convert (SBOM) exited 3") {
		t.Errorf("SBOM fails: %v %s", err, out)
	}
	// No SBOM from a failed image scan: the conversion does not run.
	os.Remove(filepath.Join(dir, "b"))
	out, err = exec.Command("sh", "-c", scanScript(fail, ok, okBom)).CombinedOutput()
	if err == nil || !strings.Contains(string(out), "trivy image exited 3") || strings.Contains(string(out), "SBOM") {
		t.Errorf("image fails: %v %s", err, out)
	}
	if _, err := os.Stat(filepath.Join(dir, "b")); err == nil {
		t.Error("the SBOM conversion ran after the image scan failed")
	}
}

// Issue 19.4: the scan's cache key flipped between a cold run (which passed
// no --skip-check-update and a cache-bust, for it downloaded the checks
// bundle) and the next warm run (which skipped the update), so the first
// warm run rescanned. Now downloads happen in Refresh, and the scan's
// commands are the same however the cache was filled: its key is the image,
// the manifests and ScanKey (DB UpdatedAt, checks digest).
func TestScanCommandsDoNotDependOnHowTheCacheWasFilled(t *testing.T) {
	cold := ScanOptions{Severity: "HIGH", CacheBust: "2026-01-01T00:00:00Z", ScanKey: "db=2026-01-01T00:00:00Z checks=sha256:aa"}
	warm := cold
	warm.CacheBust = "2026-01-01T00:05:00Z"
	ci, cc, cs := scanCommands(cold)
	wi, wc, ws := scanCommands(warm)
	if strings.Join(ci, " ") != strings.Join(wi, " ") || strings.Join(cc, " ") != strings.Join(wc, " ") || strings.Join(cs, " ") != strings.Join(ws, " ") {
		t.Errorf("the scan's commands differ between a cold and a warm run:\n%v\n%v", ci, wi)
	}
	joined := strings.Join(ci, " ")
	for _, f := range []string{"--skip-db-update", "--skip-java-db-update", "--skip-check-update"} {
		if !strings.Contains(joined, f) {
			t.Errorf("the image scan may download (no %s): %s", f, joined)
		}
	}
	if strings.Contains(joined, cold.CacheBust) || strings.Contains(strings.Join(cc, " "), cold.CacheBust) {
		t.Error("the scan carries the cache-bust")
	}
}

// Refresh's script downloads what it is asked to, stops at the first
// failure, and is empty when nothing is stale (run with sh and a stand-in
// trivy that records its arguments).
func TestRefreshScript(t *testing.T) {
	if _, err := exec.LookPath("sh"); err != nil {
		t.Skip("needs sh")
	}
	if refreshScript(ScanOptions{}, false, false) != "" {
		t.Error("nothing stale, yet a refresh script")
	}
	bin := t.TempDir()
	calls := filepath.Join(bin, "calls")
	fake := "#!/bin/sh\necho \"$*\" >> " + calls + "\ncase \"$1\" in config) [ -n \"$FAIL_CONFIG\" ] && exit 4;; esac\nexit 0\n"
	if err := os.WriteFile(filepath.Join(bin, "trivy"), []byte(fake), 0o755); err != nil {
		t.Fatal(err)
	}
	run := func(script string, env ...string) error {
		cmd := exec.Command("sh", "-c", script)
		cmd.Env = append(append(os.Environ(), "PATH="+bin+":"+os.Getenv("PATH")), env...)
		return cmd.Run()
	}
	opts := ScanOptions{DBRepository: "mirror.example/db", ChecksBundleRepository: "mirror.example/checks"}
	if err := run(refreshScript(opts, true, true)); err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(calls)
	lines := strings.Split(strings.TrimSpace(string(got)), "\n")
	if len(lines) != 2 || !strings.Contains(lines[0], "image --download-db-only") || !strings.Contains(lines[0], "--db-repository mirror.example/db") ||
		!strings.Contains(lines[1], "config") || !strings.Contains(lines[1], "--checks-bundle-repository mirror.example/checks") {
		t.Errorf("refresh ran:\n%s", got)
	}
	os.Remove(calls)
	if err := run(refreshScript(opts, false, true), "FAIL_CONFIG=1"); err == nil {
		t.Error("a failed checks download passed")
	}
	got, _ = os.ReadFile(calls)
	if strings.Contains(string(got), "download-db-only") {
		t.Errorf("the DB was downloaded though fresh:\n%s", got)
	}
}

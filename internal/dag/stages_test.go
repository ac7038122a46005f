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

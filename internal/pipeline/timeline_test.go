package pipeline

import (
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// Issue 19.6: the run summary shows when each stage ran, so a cold run
// shows where its time goes.
func TestTimeline(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	results := []StageResult{
		{Name: "lint", Status: Passed, Started: t0, Duration: Duration(6 * time.Second)},
		{Name: "test", Status: Passed, Started: t0, Duration: Duration(3 * time.Second)},
		{Name: "build", Status: Passed, Started: t0.Add(time.Second), Duration: Duration(2 * time.Second)},
		{Name: "scan", Status: Failed, Started: t0.Add(3 * time.Second), Duration: Duration(5 * time.Second)},
		{Name: "push", Status: Skipped},
		{Name: "sample-app/quick", Status: Passed, Started: t0.Add(8*time.Second - 10*time.Millisecond), Duration: Duration(10 * time.Millisecond)},
	}
	got := Timeline(results)
	lines := strings.Split(strings.TrimRight(got, "\n"), "\n")
	if len(lines) != 6 || !strings.HasPrefix(lines[0], "TIMELINE") || !strings.HasSuffix(lines[0], "8s") {
		t.Fatalf("timeline:\n%s", got)
	}
	bars := map[string]string{}
	for _, l := range lines[1:] {
		name, rest, _ := strings.Cut(l, " ")
		bars[name] = strings.TrimLeft(rest, " ")
		if w := utf8.RuneCountInString(l); w != utf8.RuneCountInString(lines[1]) {
			t.Errorf("ragged line %q", l)
		}
	}
	if _, ok := bars["push"]; ok {
		t.Error("a skipped stage is drawn")
	}
	// lint spans 0–6 s of 8 s: columns 0–30 of 40; scan starts at column 15.
	lint := lines[1][strings.Index(lines[1], "█"):]
	if n := strings.Count(lint, "█"); n != 30 {
		t.Errorf("lint: %d columns, want 30\n%s", n, got)
	}
	scanLine := lines[4]
	if off := utf8.RuneCountInString(scanLine[:strings.Index(scanLine, "█")]) - len("sample-app/quick") - 2; off != 15 {
		t.Errorf("scan starts at column %d, want 15\n%s", off, got)
	}
	if !strings.Contains(lines[5], "█") || !strings.Contains(lines[5], "8s") {
		t.Errorf("a 10 ms stage at the end is not drawn: %q", lines[5])
	}
	if Timeline([]StageResult{{Name: "push", Status: Skipped}}) != "" {
		t.Error("a timeline for a run where nothing ran")
	}
}

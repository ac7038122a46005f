package pipeline

import (
	"fmt"
	"strings"
	"time"
)

// timelineWidth is the number of columns the whole run spans.
const timelineWidth = 40

// Timeline draws when each stage ran, relative to the first start, so a
// user sees where a run's time goes (a cold run's compile, a critical path
// through lint, stages waiting for each other):
//
//	TIMELINE  0s ──────────────────────────────────────── 12.3s
//	lint      ████████████████                          0.0s  +5.5s
//	scan                  ████████████                  5.1s  +4.0s
//
// Skipped stages and stages that never started are left out; "" when none ran.
func Timeline(results []StageResult) string {
	var first, last time.Time
	var ran []StageResult
	for _, s := range results {
		if s.Status == Skipped || s.Started.IsZero() {
			continue
		}
		ran = append(ran, s)
		end := s.Started.Add(time.Duration(s.Duration))
		if first.IsZero() || s.Started.Before(first) {
			first = s.Started
		}
		if end.After(last) {
			last = end
		}
	}
	if len(ran) == 0 {
		return ""
	}
	span := last.Sub(first)
	name := 8
	for _, s := range ran {
		name = max(name, len(s.Name))
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%-*s  0s %s %s\n", name, "TIMELINE", strings.Repeat("─", timelineWidth-3), round(span))
	for _, s := range ran {
		from, to := col(s.Started.Sub(first), span), col(s.Started.Add(time.Duration(s.Duration)).Sub(first), span)
		if to <= from {
			to = from + 1 // a stage shorter than a column still shows
		}
		if to > timelineWidth {
			from, to = timelineWidth-(to-from), timelineWidth
		}
		bar := strings.Repeat(" ", from) + strings.Repeat("█", to-from) + strings.Repeat(" ", timelineWidth-to)
		fmt.Fprintf(&b, "%-*s  %s  %6s %7s\n", name, s.Name, bar, round(s.Started.Sub(first)), "+"+round(time.Duration(s.Duration)))
	}
	return b.String()
}

// col is the column of offset d in a run of length span.
func col(d, span time.Duration) int {
	if span <= 0 {
		return 0
	}
	return int(float64(d) / float64(span) * timelineWidth)
}

func round(d time.Duration) string {
	return d.Round(100 * time.Millisecond).String()
}

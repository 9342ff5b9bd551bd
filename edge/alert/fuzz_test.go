package alert

import "testing"

// FuzzParseWhen holds the parser of `when` (config text) to: no panic, and
// whatever it accepts prints in a canonical form that parses back to the
// same expression.
func FuzzParseWhen(f *testing.F) {
	for _, s := range []string{
		"signature_failures > 20 in 5m", "refused_ratio > 0.5 in 10m",
		"queue_oldest > 15m", "agent_offline > 2m", "queue_depth > 1e3",
		"refused>3 in 1m", "dead_letters > 0 in 24h", "refused >= 1 in 1m",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		x, err := parseWhen(s)
		if err != nil {
			return
		}
		if x.threshold < 0 || (x.metric.kind == ratio && x.threshold >= 1) {
			t.Fatalf("parseWhen(%q) accepted threshold %v", s, x.threshold)
		}
		if (x.metric.kind == gauge) != (x.window == 0) {
			t.Fatalf("parseWhen(%q): metric %s with window %v", s, x.metric.name, x.window)
		}
		again, err := parseWhen(x.String())
		if err != nil {
			t.Fatalf("canonical %q of %q does not parse: %v", x.String(), s, err)
		}
		if again != x {
			t.Fatalf("canonical %q of %q parses to %+v, not %+v", x.String(), s, again, x)
		}
	})
}

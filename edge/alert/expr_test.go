package alert

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/hooktunnel/hooktunnel/policy"
)

func TestParseWhen(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, in  string
		metric    string
		threshold float64
		window    time.Duration
		canonical string
	}{
		{"counter", "signature_failures > 20 in 5m", "signature_failures", 20, 5 * time.Minute, "signature_failures > 20 in 5m"},
		{"ratio", "refused_ratio > 0.5 in 10m", "refused_ratio", 0.5, 10 * time.Minute, "refused_ratio > 0.5 in 10m"},
		{"duration gauge", "queue_oldest > 15m", "queue_oldest", 900, 0, "queue_oldest > 15m"},
		{"agent offline", "agent_offline > 2m", "agent_offline", 120, 0, "agent_offline > 2m"},
		{"number gauge", "queue_depth > 1000", "queue_depth", 1000, 0, "queue_depth > 1000"},
		{"no spaces", "refused>3 in 1m", "refused", 3, time.Minute, "refused > 3 in 1m"},
		{"extra spaces", "  requests   >  100   in   1h  ", "requests", 100, time.Hour, "requests > 100 in 1h"},
		{"dead letters", "dead_letters > 0 in 24h", "dead_letters", 0, 24 * time.Hour, "dead_letters > 0 in 24h"},
		{"compound window", "refused > 5 in 1h30m", "refused", 5, 90 * time.Minute, "refused > 5 in 1h30m"},
		{"seconds gauge", "queue_oldest > 90s", "queue_oldest", 90, 0, "queue_oldest > 1m30s"},
		{"zero ratio", "refused_ratio > 0 in 1s", "refused_ratio", 0, time.Second, "refused_ratio > 0 in 1s"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			x, err := parseWhen(tc.in)
			if err != nil {
				t.Fatalf("parseWhen(%q): %v", tc.in, err)
			}
			if x.metric.name != tc.metric || x.threshold != tc.threshold || x.window != tc.window {
				t.Errorf("parseWhen(%q) = %s %v %v; want %s %v %v", tc.in, x.metric.name, x.threshold, x.window, tc.metric, tc.threshold, tc.window)
			}
			if got := x.String(); got != tc.canonical {
				t.Errorf("String() = %q; want %q", got, tc.canonical)
			}
		})
	}
}

func TestParseWhenErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ name, in, want string }{
		{"empty", "", "want `<metric> > <threshold>"},
		{"no operator", "refused 20 in 5m", "want `<metric> >"},
		{"greater or equal", "refused >= 20 in 5m", "only > is supported"},
		{"less than", "refused < 20 in 5m", "want `<metric> >"},
		{"no metric", "> 20 in 5m", "the metric is missing"},
		{"unknown metric", "errors > 20 in 5m", `unknown metric "errors"; one of signature_failures, refused`},
		{"no threshold", "refused >", "the threshold is missing"},
		{"counter without window", "signature_failures > 20", "counts over a window: add one, e.g. `signature_failures > 20 in 5m`"},
		{"gauge with window", "queue_oldest > 15m in 5m", "queue_oldest is read as it is now: drop `in 5m`"},
		{"number for a duration", "agent_offline > 120", `threshold "120" of agent_offline is not a duration`},
		{"duration for a number", "refused > 5m in 5m", `threshold "5m" of refused is not a number`},
		{"negative", "refused > -1 in 5m", "is not a number"},
		{"nan", "refused > NaN in 5m", "is not a number"},
		{"infinity", "requests > +Inf in 5m", "is not a number"},
		{"ratio of one", "refused_ratio > 1 in 5m", "must be below 1"},
		{"ratio as percent", "refused_ratio > 50 in 5m", "must be below 1"},
		{"bad window", "refused > 5 in soon", `window "soon" is not a duration`},
		{"sub-second window", "refused > 5 in 500ms", "must be between 1s and 24h"},
		{"long window", "refused > 5 in 48h", "must be between 1s and 24h"},
		{"fractional window", "refused > 5 in 1.5s", "must be whole seconds"},
		{"trailing words", "refused > 5 in 5m please", `unexpected "in 5m please"`},
		{"for instead of in", "refused > 5 for 5m", `unexpected "for 5m"`},
		{"two operators", "refused > 5 > 6 in 5m", `unexpected "> 6 in 5m"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parseWhen(tc.in)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("parseWhen(%q) = %v; want an error with %q", tc.in, err, tc.want)
			}
		})
	}
}

func TestCompileFieldErrors(t *testing.T) {
	t.Setenv("ALERT_TEST_SECRET", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
	t.Setenv("ALERT_TEST_EMPTY", "")
	ok := Rule{Name: "ok", When: "refused > 1 in 1m"}
	for _, tc := range []struct {
		name  string
		cfg   Config
		field string
		want  string
	}{
		{"bad when", Config{Rules: []Rule{ok, {Name: "b", When: "refused > 1 in 1m"}, {Name: "c", When: "refused > x in 1m"}}}, "rules[2].when", "is not a number"},
		{"no name", Config{Rules: []Rule{{When: "refused > 1 in 1m"}}}, "rules[0].name", "is required"},
		{"duplicate name", Config{Rules: []Rule{ok, ok}}, "rules[1].name", `"ok" is used twice`},
		{"bad tunnel glob", Config{Rules: []Rule{{Name: "t", When: "refused > 1 in 1m", Tunnel: "ci-["}}}, "rules[0].tunnel", "is not a name or glob"},
		{"route on a per-tunnel metric", Config{Rules: []Rule{{Name: "a", When: "agent_offline > 2m", Route: "/x"}}}, "rules[0].route", "agent_offline is per tunnel"},
		{"url without secret", Config{Webhook: WebhookConfig{URL: "https://alerts.example.com/hook"}}, "webhook.secret", "is required"},
		{"secret without url", Config{Webhook: WebhookConfig{Secret: "env:ALERT_TEST_SECRET"}}, "webhook.url", "is required when a secret is set"},
		{"bad url", Config{Webhook: WebhookConfig{URL: "ftp://x", Secret: "env:ALERT_TEST_SECRET"}}, "webhook.url", "is not an http:// or https:// URL"},
		{"unset env", Config{Webhook: WebhookConfig{URL: "https://x/", Secret: "env:ALERT_TEST_UNSET"}}, "webhook.secret", "env ALERT_TEST_UNSET is not set"},
		{"empty env", Config{Webhook: WebhookConfig{URL: "https://x/", Secret: "env:ALERT_TEST_EMPTY"}}, "webhook.secret", "secret is empty"},
		{"not whsec", Config{Webhook: WebhookConfig{URL: "https://x/", Secret: "whsec_!!!"}}, "webhook.secret", "literal is not a Standard Webhooks secret"},
		{"negative cooldown", Config{Cooldown: -time.Second}, "cooldown", "must not be negative"},
		{"tiny interval", Config{Interval: time.Millisecond}, "interval", "at least 100ms"},
		{"too many attempts", Config{Webhook: WebhookConfig{Attempts: 100}}, "webhook.attempts", "between 1 and 20"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tc.cfg.Compile()
			var fe *policy.FieldError
			if !errors.As(err, &fe) || fe.Field != tc.field || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Compile() = %v; want %s: …%s…", err, tc.field, tc.want)
			}
			// Under the edge config it reads alerts.<field>.
			if got := policy.AtField("alerts", err).Error(); !strings.HasPrefix(got, "alerts."+tc.field+": ") {
				t.Errorf("under alerts: %q", got)
			}
		})
	}
}

func TestCompileDefaults(t *testing.T) {
	t.Setenv("ALERT_TEST_SECRET", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
	for name, cfg := range map[string]Config{"zero": {}, "DefaultConfig": DefaultConfig()} {
		c, err := cfg.Compile()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if c.cooldown != DefaultCooldown || c.interval != DefaultInterval || c.attempts != 5 || c.timeout != 10*time.Second || c.url != "" || c.key != nil {
			t.Errorf("%s compiled to %+v", name, c)
		}
	}
	c, err := Config{
		Webhook: WebhookConfig{URL: "https://alerts.example.com/hook", Secret: "env:ALERT_TEST_SECRET"},
		Rules: []Rule{
			{Name: "sig", When: "signature_failures > 20 in 5m"},
			{Name: "ratio", When: "refused_ratio > 0.5 in 10m"},
			{Name: "queue", When: "queue_oldest > 15m"},
		},
	}.Compile()
	if err != nil {
		t.Fatal(err)
	}
	if len(c.key) != 24 || c.maxWindow != 10*time.Minute || len(c.rules) != 3 {
		t.Errorf("key %d bytes, longest window %v, %d rules", len(c.key), c.maxWindow, len(c.rules))
	}
}

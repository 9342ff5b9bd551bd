package alert

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// kind is how a metric is measured.
type kind int

const (
	counter kind = iota // events counted over a window
	ratio               // a ratio of two counts over a window, 0–1
	gauge               // a value read at evaluation, no window
)

// metric is one entry of the metric table.
type metric struct {
	name string
	kind kind
	// duration metrics take a duration threshold; their values are in
	// seconds.
	duration bool
	// perTunnel metrics have no route.
	perTunnel bool
	// count is a counter's (or ratio's) value of a window's counts.
	count func(c counts) float64
	// gauge is a gauge's value for one Gauge, and combine merges two
	// values of one subject (several routes of a per-tunnel rule).
	gauge   func(g Gauge) float64
	combine func(a, b float64) float64
}

func sum(a, b float64) float64 { return a + b }

// metrics is the table of what rules can watch.
var metrics = []*metric{
	{name: "signature_failures", kind: counter, count: func(c counts) float64 { return float64(c.sigFailures) }},
	{name: "refused", kind: counter, count: func(c counts) float64 { return float64(c.refused) }},
	{name: "refused_ratio", kind: ratio, count: func(c counts) float64 {
		if c.requests == 0 {
			return 0
		}
		return float64(c.refused) / float64(c.requests)
	}},
	{name: "requests", kind: counter, count: func(c counts) float64 { return float64(c.requests) }},
	{name: "dead_letters", kind: counter, count: func(c counts) float64 { return float64(c.dead) }},
	{name: "bodies_dropped", kind: counter, count: func(c counts) float64 { return float64(c.bodiesDropped) }},
	{name: "queue_oldest", kind: gauge, duration: true, combine: math.Max,
		gauge: func(g Gauge) float64 { return g.QueueOldest.Seconds() }},
	{name: "queue_depth", kind: gauge, combine: sum,
		gauge: func(g Gauge) float64 { return float64(g.QueueDepth) }},
	{name: "agent_offline", kind: gauge, duration: true, perTunnel: true, combine: math.Max,
		gauge: func(g Gauge) float64 { return g.AgentOffline.Seconds() }},
	{name: "edge_lapsed", kind: gauge, duration: true, perTunnel: true, combine: math.Max,
		gauge: func(g Gauge) float64 { return g.EdgeLapsed.Seconds() }},
}

func metricNamed(name string) *metric {
	for _, m := range metrics {
		if m.name == name {
			return m
		}
	}
	return nil
}

func metricNames() string {
	names := make([]string, len(metrics))
	for i, m := range metrics {
		names[i] = m.name
	}
	return strings.Join(names, ", ")
}

// expr is a parsed `when`: the metric's value above threshold, over
// window for counters.
type expr struct {
	metric    *metric
	threshold float64       // seconds for duration metrics
	duration  time.Duration // the threshold of duration metrics as written
	window    time.Duration // counters and ratios only
}

const grammar = "want `<metric> > <threshold> [in <window>]`, e.g. `signature_failures > 20 in 5m` or `queue_oldest > 15m`"

// parseWhen reads `<metric> > <number|duration> [in <duration>]`.
func parseWhen(s string) (expr, error) {
	var x expr
	left, right, ok := strings.Cut(s, ">")
	if !ok {
		return x, errors.New(grammar)
	}
	if strings.HasPrefix(right, "=") {
		return x, errors.New("only > is supported: " + grammar)
	}
	name := strings.TrimSpace(left)
	if name == "" {
		return x, errors.New("the metric is missing: " + grammar)
	}
	if x.metric = metricNamed(name); x.metric == nil {
		return x, fmt.Errorf("unknown metric %q; one of %s", clip(name), metricNames())
	}
	fields := strings.Fields(right)
	var threshold, window string
	switch {
	case len(fields) == 1:
		threshold = fields[0]
	case len(fields) == 3 && fields[1] == "in":
		threshold, window = fields[0], fields[2]
	case len(fields) == 0:
		return x, errors.New("the threshold is missing: " + grammar)
	default:
		return x, fmt.Errorf("unexpected %q after the threshold: %s", clip(strings.Join(fields[1:], " ")), grammar)
	}
	var err error
	if x.threshold, x.duration, err = parseThreshold(x.metric, threshold); err != nil {
		return x, err
	}
	if x.metric.kind == gauge {
		if window != "" {
			return x, fmt.Errorf("%s is read as it is now: drop `in %s`", x.metric.name, clip(window))
		}
		return x, nil
	}
	if window == "" {
		return x, fmt.Errorf("%s counts over a window: add one, e.g. `%s > %s in 5m`", x.metric.name, x.metric.name, clip(threshold))
	}
	if x.window, err = parseWindow(window); err != nil {
		return x, err
	}
	return x, nil
}

func parseThreshold(m *metric, s string) (float64, time.Duration, error) {
	if m.duration {
		d, err := time.ParseDuration(s)
		if err != nil || d < 0 {
			return 0, 0, fmt.Errorf("threshold %q of %s is not a duration such as 15m", clip(s), m.name)
		}
		return d.Seconds(), d, nil
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) || f < 0 {
		return 0, 0, fmt.Errorf("threshold %q of %s is not a number such as 20", clip(s), m.name)
	}
	if m.kind == ratio && f >= 1 {
		return 0, 0, fmt.Errorf("threshold %s of %s must be below 1: a ratio is between 0 and 1", clip(s), m.name)
	}
	return f, 0, nil
}

func parseWindow(s string) (time.Duration, error) {
	d, err := time.ParseDuration(s)
	switch {
	case err != nil:
		return 0, fmt.Errorf("window %q is not a duration such as 5m", clip(s))
	case d < time.Second || d > maxWindow:
		return 0, fmt.Errorf("window %s must be between 1s and %s", clip(s), shortDuration(maxWindow))
	case d%time.Second != 0:
		return 0, fmt.Errorf("window %s must be whole seconds", clip(s))
	}
	return d, nil
}

// String is the canonical form of x, which parses back to x.
func (x expr) String() string {
	var b strings.Builder
	b.WriteString(x.metric.name + " > " + x.thresholdText())
	if x.window > 0 {
		b.WriteString(" in " + shortDuration(x.window))
	}
	return b.String()
}

func (x expr) thresholdText() string {
	if x.metric.duration {
		return shortDuration(x.duration)
	}
	return strconv.FormatFloat(x.threshold, 'g', -1, 64)
}

// shortDuration is d as time.Duration prints it, without the zero
// minutes and seconds: "5m", "1h30m", "15m", "90s" stays "1m30s".
func shortDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = s[:len(s)-2]
	}
	if strings.HasSuffix(s, "h0m") {
		s = s[:len(s)-2]
	}
	return s
}

// clip bounds text from the config quoted in errors.
func clip(s string) string {
	n := 0
	for i := range s {
		if n == 40 {
			return s[:i] + "…"
		}
		n++
	}
	return s
}

package alert

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hooktunnel/hooktunnel/policy"
)

// delivery is one request a receiver got.
type delivery struct {
	id      string
	payload Payload
	err     error // the signature check's
}

// receiver is an httptest server that checks each alert's signature with
// the edge's own Standard Webhooks verifier, at the engine's clock, and
// answers with the status answer gives for the n-th request.
func receiver(t *testing.T, secret string, now func() time.Time, answer func(n int) int) (*httptest.Server, <-chan delivery) {
	t.Helper()
	v, err := policy.NewVerifier(policy.VerifyConfig{Provider: "standard-webhooks"}, []policy.Secret{{Ref: "test", Value: []byte(secret)}}, 0)
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan delivery, 100)
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		d := delivery{id: r.Header.Get("webhook-id")}
		_, d.err = v.Verify(&policy.Request{Method: r.Method, URL: r.URL, Header: r.Header, Body: body}, now())
		if err := json.Unmarshal(body, &d.payload); err != nil && d.err == nil {
			d.err = err
		}
		if r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/json" {
			t.Errorf("%s with Content-Type %q", r.Method, r.Header.Get("Content-Type"))
		}
		got <- d
		status := answer(int(n.Add(1)))
		if d.err != nil {
			status = http.StatusUnauthorized
		}
		w.WriteHeader(status)
	}))
	t.Cleanup(srv.Close)
	return srv, got
}

func always(status int) func(int) int { return func(int) int { return status } }

func next(t *testing.T, ch <-chan delivery) delivery {
	t.Helper()
	select {
	case d := <-ch:
		return d
	case <-time.After(10 * time.Second):
		t.Fatal("no delivery")
		return delivery{}
	}
}

// runEngine runs e until the test ends and checks that Run returns.
func runEngine(t *testing.T, e *Engine) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Error("Run did not return when its context ended")
		}
	})
}

func TestDeliverySignedEndToEnd(t *testing.T) {
	t.Parallel()
	clock := newClock()
	srv, got := receiver(t, testSecret, clock.now, always(http.StatusNoContent))
	te := newTestEngineAt(t, clock, Config{
		Interval: 100 * time.Millisecond,
		Webhook:  WebhookConfig{URL: srv.URL + "/alerts", Secret: testSecret},
		Rules:    []Rule{{Name: "sig", When: "signature_failures > 20 in 5m", Route: "*"}},
	})
	runEngine(t, te.Engine)

	te.observe(21, refusal("github", "/push", "bad_signature"))
	d := next(t, got)
	if d.err != nil {
		t.Fatalf("the receiver's verifier refused the alert: %v", d.err)
	}
	want := Payload{Type: TypeFiring, Rule: "sig", When: "signature_failures > 20 in 5m", Metric: "signature_failures",
		Tunnel: "github", Route: "/push", Value: 21, Threshold: 20, Window: "5m", FiredAt: clock.now(), At: clock.now()}
	if d.payload != want {
		t.Errorf("payload %+v\nwant    %+v", d.payload, want)
	}

	clock.advance(5 * time.Minute)
	d = next(t, got)
	if d.err != nil || d.payload.Type != TypeResolved || d.payload.Value != 0 || !d.payload.At.Equal(clock.now()) {
		t.Fatalf("resolution %+v", d)
	}
}

func TestDeliveryWrongSecretIsRefused(t *testing.T) {
	t.Parallel()
	// The receiver's check is real: an alert signed with another secret
	// fails it.
	clock := newClock()
	srv, got := receiver(t, "whsec_"+"c2VjcmV0LW9mLWFub3RoZXItcmVjZWl2ZXI=", clock.now, always(http.StatusOK))
	te := newTestEngineAt(t, clock, Config{
		Webhook: WebhookConfig{URL: srv.URL, Secret: testSecret, Attempts: 1},
		Rules:   []Rule{{Name: "r", When: "refused > 0 in 1m"}},
	})
	te.observe(1, refusal("a", "", "x"))
	te.evaluate()
	p := <-te.sender.queue
	te.sender.deliver(context.Background(), p)
	if d := next(t, got); d.err == nil {
		t.Fatal("a wrong secret passed the verifier")
	}
	if failed := te.logs.lines(t, "alert notification failed"); len(failed) != 1 || failed[0]["attempts"] != 1.0 {
		t.Errorf("failure logs %v", failed)
	}
}

func TestDeliveryRetries(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		answer   func(n int) int
		attempts int
		sent     bool
	}{
		{"fails twice then succeeds", func(n int) int {
			if n <= 2 {
				return http.StatusServiceUnavailable
			}
			return http.StatusOK
		}, 3, true},
		{"gives up after the attempts", always(http.StatusInternalServerError), 4, false},
		{"a 400 is final", always(http.StatusBadRequest), 1, false},
		{"a 429 is retried", func(n int) int {
			if n == 1 {
				return http.StatusTooManyRequests
			}
			return http.StatusAccepted
		}, 2, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			clock := newClock()
			srv, got := receiver(t, testSecret, clock.now, tc.answer)
			te := newTestEngineAt(t, clock, Config{
				Webhook: WebhookConfig{URL: srv.URL, Secret: testSecret, Attempts: 4},
				Rules:   []Rule{{Name: "r", When: "refused > 0 in 1m"}},
			})
			var waits []time.Duration
			te.sender.backoff = func(n int) time.Duration {
				waits = append(waits, backoff(n))
				return time.Millisecond
			}
			te.observe(1, refusal("a", "", "x"))
			te.evaluate()
			te.sender.deliver(context.Background(), <-te.sender.queue)

			var ids []string
			for range tc.attempts {
				d := next(t, got)
				if d.err != nil {
					t.Fatalf("attempt %d: %v", len(ids)+1, d.err)
				}
				ids = append(ids, d.id)
			}
			select {
			case <-got:
				t.Fatalf("attempt %d made; want %d", tc.attempts+1, tc.attempts)
			default:
			}
			for _, id := range ids {
				if id != ids[0] || len(id) < 20 {
					t.Errorf("webhook-ids %v: want one id for every attempt", ids)
				}
			}
			if len(waits) != tc.attempts-1 {
				t.Errorf("%d waits for %d attempts", len(waits), tc.attempts)
			}
			for i, w := range waits {
				if lo, hi := backoffMin<<i/2, backoffMin<<i; w < lo || w > hi {
					t.Errorf("wait %d is %v; want %v to %v", i+1, w, lo, hi)
				}
			}
			sent := te.logs.lines(t, "alert notification sent")
			if (len(sent) == 1) != tc.sent {
				t.Errorf("sent logs %v", sent)
			}
		})
	}
}

func TestBackoffIsBounded(t *testing.T) {
	t.Parallel()
	for n := 1; n < 100; n++ {
		if d := backoff(n); d < backoffMin/2 || d > backoffMax {
			t.Fatalf("backoff(%d) = %v", n, d)
		}
	}
}

// A dead receiver blocks neither the evaluation nor the end of Run.
func TestDeadReceiverBlocksNothing(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := "http://" + ln.Addr().String() + "/alerts"
	ln.Close()

	te := newTestEngine(t, Config{
		Webhook: WebhookConfig{URL: dead, Secret: testSecret, Attempts: 20},
		Rules:   []Rule{{Name: "r", When: "refused > 0 in 1s", Route: "*"}},
	})
	var retrying sync.WaitGroup
	retrying.Add(1)
	var once sync.Once
	te.sender.backoff = func(int) time.Duration {
		once.Do(retrying.Done)
		return time.Hour
	}
	runEngine(t, te.Engine)
	te.Observe(refusal("a", "/first", "x"))
	te.evaluate()
	retrying.Wait()

	// Many alerts while the sender waits an hour to retry the first.
	evaluated := make(chan struct{})
	go func() {
		defer close(evaluated)
		for i := range 3 * queueSize {
			te.Observe(refusal("a", "/r"+string(rune('a'+i%26))+string(rune('a'+i/26)), "x"))
			te.evaluate()
			te.clock.advance(time.Second)
		}
	}()
	select {
	case <-evaluated:
	case <-time.After(10 * time.Second):
		t.Fatal("evaluation blocked behind a dead receiver")
	}
	if dropped := te.logs.lines(t, "alert notification dropped: the receiver is behind"); len(dropped) == 0 {
		t.Error("no notification was dropped although the queue overflowed")
	}
	if n := len(te.sender.queue); n != queueSize {
		t.Errorf("queue holds %d; want it full at %d", n, queueSize)
	}
	// runEngine's cleanup checks that Run returns although a retry waits.
}

func TestNoWebhookNoSender(t *testing.T) {
	t.Parallel()
	te := newTestEngine(t, Config{Rules: []Rule{{Name: "r", When: "refused > 0 in 1m"}}})
	if te.sender != nil {
		t.Fatal("a sender without a webhook")
	}
	runEngine(t, te.Engine)
	te.observe(1, refusal("a", "", "x"))
	te.evaluate()
	if len(te.Active()) != 1 || len(te.logs.lines(t, "alert firing")) != 1 {
		t.Error("without a webhook an alert is still shown and logged")
	}
}

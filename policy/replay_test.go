package policy

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// replayStep is one call on a MemoryReplayCache, at a time after t0.
type replayStep struct {
	op    string // claim, confirm, release
	keys  []string
	owner string
	at    time.Duration
	want  ClaimState // for claim
}

func TestMemoryReplayCacheClaim(t *testing.T) {
	t.Parallel()
	const lease, ttl = time.Minute, time.Hour
	claim := func(owner string, at time.Duration, want ClaimState, keys ...string) replayStep {
		return replayStep{op: "claim", keys: keys, owner: owner, at: at, want: want}
	}
	confirm := func(owner string, at time.Duration, keys ...string) replayStep {
		return replayStep{op: "confirm", keys: keys, owner: owner, at: at}
	}
	release := func(owner string, keys ...string) replayStep {
		return replayStep{op: "release", keys: keys, owner: owner}
	}
	tests := []struct {
		name  string
		steps []replayStep
	}{
		{"new keys are claimed", []replayStep{
			claim("a", 0, Claimed, "id:1", "sig:x"),
		}},
		{"a held key is in flight", []replayStep{
			claim("a", 0, Claimed, "id:1", "sig:x"),
			claim("b", time.Second, ClaimHeld, "id:1", "sig:x"),
		}},
		{"a confirmed key is done", []replayStep{
			claim("a", 0, Claimed, "id:1", "sig:x"),
			confirm("a", time.Second, "id:1", "sig:x"),
			claim("b", 2*time.Second, ClaimDone, "id:1", "sig:x"),
		}},
		{"one known key of several is enough: a changed id", []replayStep{
			claim("a", 0, Claimed, "id:1", "sig:x"),
			confirm("a", 0, "id:1", "sig:x"),
			claim("b", time.Second, ClaimDone, "id:2", "sig:x"),
		}},
		{"one known key of several is enough: no id", []replayStep{
			claim("a", 0, Claimed, "id:1", "sig:x"),
			claim("b", time.Second, ClaimHeld, "sig:x"),
		}},
		{"done wins over held", []replayStep{
			claim("a", 0, Claimed, "id:1"),
			claim("b", 0, Claimed, "sig:x"),
			confirm("b", 0, "sig:x"),
			claim("c", time.Second, ClaimDone, "id:1", "sig:x"),
		}},
		{"a refused claim holds nothing", []replayStep{
			claim("a", 0, Claimed, "id:1"),
			claim("b", 0, ClaimHeld, "id:1", "sig:x"),
			claim("c", 0, Claimed, "sig:x"),
		}},
		{"a release lets the provider's retry through", []replayStep{
			claim("a", 0, Claimed, "id:1", "sig:x"),
			release("a", "id:1", "sig:x"),
			claim("b", time.Second, Claimed, "id:1", "sig:x"),
		}},
		{"another owner cannot release a hold", []replayStep{
			claim("a", 0, Claimed, "id:1"),
			release("b", "id:1"),
			claim("c", time.Second, ClaimHeld, "id:1"),
		}},
		{"a release after confirm changes nothing", []replayStep{
			claim("a", 0, Claimed, "id:1"),
			confirm("a", 0, "id:1"),
			release("a", "id:1"),
			claim("b", time.Second, ClaimDone, "id:1"),
		}},
		{"a hold ends with its lease", []replayStep{
			claim("a", 0, Claimed, "id:1"),
			claim("b", lease-time.Second, ClaimHeld, "id:1"),
			claim("c", lease+time.Second, Claimed, "id:1"),
		}},
		{"a stale owner's release does not free the new hold", []replayStep{
			claim("a", 0, Claimed, "id:1"),
			claim("b", lease+time.Second, Claimed, "id:1"),
			release("a", "id:1"),
			claim("c", lease+2*time.Second, ClaimHeld, "id:1"),
		}},
		{"done ends with its ttl", []replayStep{
			claim("a", 0, Claimed, "id:1"),
			confirm("a", 0, "id:1"),
			claim("b", ttl-time.Second, ClaimDone, "id:1"),
			claim("c", ttl+time.Second, Claimed, "id:1"),
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := NewMemoryReplayCache(100)
			t0 := time.Unix(1_700_000_000, 0)
			for i, s := range tc.steps {
				switch s.op {
				case "claim":
					if got := c.Claim(s.keys, s.owner, t0.Add(s.at), lease); got != s.want {
						t.Fatalf("step %d: Claim(%v) by %s = %d, want %d", i, s.keys, s.owner, got, s.want)
					}
				case "confirm":
					c.Confirm(s.keys, s.owner, t0.Add(s.at), ttl)
				case "release":
					c.Release(s.keys, s.owner)
				}
			}
		})
	}
}

func TestMemoryReplayCacheIsBounded(t *testing.T) {
	t.Parallel()
	c := NewMemoryReplayCache(3)
	now := time.Unix(0, 0)
	for i := range 5 {
		key := []string{fmt.Sprint(i)}
		c.Claim(key, "o", now, time.Hour)
		c.Confirm(key, "o", now, time.Hour)
	}
	if c.Len() != 3 {
		t.Errorf("cache holds %d keys, want 3", c.Len())
	}
	if got := c.Claim([]string{"4"}, "p", now, time.Hour); got != ClaimDone {
		t.Errorf("the newest key: %d, want done", got)
	}
	if got := c.Claim([]string{"0"}, "p", now, time.Hour); got != Claimed {
		t.Errorf("the oldest key was kept: %d", got)
	}
}

// Copies racing for one delivery, each with its own delivery id (as a
// replay with a changed X-GitHub-Delivery has) and the same fingerprint:
// exactly one claims it. Run with -race.
func TestMemoryReplayCacheClaimIsAtomic(t *testing.T) {
	t.Parallel()
	c := NewMemoryReplayCache(1000)
	now := time.Unix(0, 0)
	for round := range 20 {
		const copies = 32
		var wg sync.WaitGroup
		var mu sync.Mutex
		claimed := 0
		start := make(chan struct{})
		for i := range copies {
			wg.Go(func() {
				<-start
				keys := []string{fmt.Sprintf("id:%d-%d", round, i), fmt.Sprintf("sig:%d", round)}
				if i%2 == 1 {
					keys[0], keys[1] = keys[1], keys[0]
				}
				if c.Claim(keys, fmt.Sprint(i), now, time.Minute) == Claimed {
					mu.Lock()
					claimed++
					mu.Unlock()
				}
			})
		}
		close(start)
		wg.Wait()
		if claimed != 1 {
			t.Fatalf("round %d: %d copies claimed the delivery, want 1", round, claimed)
		}
	}
}

// The fingerprint of one signed message is the same however its header
// spells or lists the signatures and whichever secret of a rotation
// matched; another message's differs.
func TestFingerprintIgnoresSpelling(t *testing.T) {
	t.Parallel()
	mac := func(key, content string) string {
		m := hmac.New(sha256.New, []byte(key))
		m.Write([]byte(content))
		return hex.EncodeToString(m.Sum(nil))
	}
	body, ts := `{"id":"evt_1"}`, "1700000000"
	now := time.Unix(1_700_000_000, 0)
	stripeNew, stripeOld := mac("whsec_new", ts+"."+body), mac("whsec_old", ts+"."+body)
	ghSig := mac("gh", body)
	tests := []struct {
		name     string
		provider string
		secrets  []string
		headers  []string // name, value pairs; each set is one copy
		body     string
	}{
		{"stripe: the new secret's entry", "stripe", []string{"whsec_new", "whsec_old"}, []string{"Stripe-Signature", "t=" + ts + ",v1=" + stripeNew}, body},
		{"stripe: the old secret's entry alone", "stripe", []string{"whsec_new", "whsec_old"}, []string{"Stripe-Signature", "t=" + ts + ",v1=" + stripeOld}, body},
		{"stripe: entries reordered, a forged one added", "stripe", []string{"whsec_new", "whsec_old"}, []string{"Stripe-Signature", "v1=" + strings.Repeat("0", 64) + ", v1=" + stripeOld + ",t=" + ts + ",v0=x,v1=" + stripeNew}, body},
		{"github: lower-case hex", "github", []string{"gh"}, []string{"X-Hub-Signature-256", "sha256=" + ghSig}, body},
		{"github: upper-case hex", "github", []string{"gh"}, []string{"X-Hub-Signature-256", "sha256=" + strings.ToUpper(ghSig)}, body},
	}
	seen := map[string]string{} // provider → first fingerprint
	for _, tc := range tests {
		v, err := NewVerifier(VerifyConfig{Provider: tc.provider}, rotationSecrets(tc.secrets...), 0)
		if err != nil {
			t.Fatal(err)
		}
		res, err := v.Verify(newReq("POST", "https://h/x", []byte(tc.body), "10.0.0.1", tc.headers...), now)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		fp := hex.EncodeToString(res.Fingerprint)
		if first, ok := seen[tc.provider]; ok && fp != first {
			t.Errorf("%s: fingerprint %s, the first copy's was %s", tc.name, fp, first)
		}
		seen[tc.provider] = fp
	}
	other := []byte(`{"id":"evt_2"}`)
	v, _ := NewVerifier(VerifyConfig{Provider: "github"}, rotationSecrets("gh"), 0)
	res, err := v.Verify(newReq("POST", "https://h/x", other, "10.0.0.1", "X-Hub-Signature-256", "sha256="+mac("gh", string(other))), now)
	if err != nil || hex.EncodeToString(res.Fingerprint) == seen["github"] {
		t.Errorf("another body: %v, same fingerprint %v", err, err == nil)
	}
}

// githubDuplicatePolicy is a policy with one GitHub route and a replay
// cache, and a signed request maker for it.
func githubDuplicatePolicy(t *testing.T) (*Policy, func(body, delivery string) *Request) {
	t.Helper()
	p, err := Config{Routes: []RouteConfig{{Path: "/gh", Verify: &VerifyConfig{Provider: "github", Secrets: []string{"gh-secret"}}}}}.
		CompileEnv(Env{Replay: NewMemoryReplayCache(1000), Scope: "t"})
	if err != nil {
		t.Fatal(err)
	}
	return p, func(body, delivery string) *Request {
		h := []string{"X-Hub-Signature-256", signGitHub("gh-secret", []byte(body))}
		if delivery != "" {
			h = append(h, "X-GitHub-Delivery", delivery)
		}
		return newReq("POST", "https://h/gh", []byte(body), "10.0.0.1", h...)
	}
}

func TestDuplicateByDeliveryIDOrSignature(t *testing.T) {
	t.Parallel()
	now := time.Unix(1_700_000_000, 0)
	verify := func(p *Policy, r *Request) Decision {
		d := p.Admit(r, now)
		p.Verify(&d, r, now)
		return d
	}
	type copyOf struct {
		body, delivery string
		wantErr        error
	}
	tests := []struct {
		name   string
		status int // the app's answer to the first copy; 0: still in flight
		copies []copyOf
	}{
		{"accepted: the same copy", 200, []copyOf{{"a", "d1", ErrDuplicate}}},
		{"accepted: the delivery id changed", 204, []copyOf{{"a", "d2", ErrDuplicate}}},
		{"accepted: the delivery id removed", 200, []copyOf{{"a", "", ErrDuplicate}}},
		{"accepted: the same id, another body", 200, []copyOf{{"b", "d1", ErrDuplicate}}},
		{"accepted: another delivery", 200, []copyOf{{"b", "d2", nil}}},
		{"in flight: the same copy", 0, []copyOf{{"a", "d1", ErrInFlight}}},
		{"in flight: the delivery id changed", 0, []copyOf{{"a", "d9", ErrInFlight}}},
		{"failed: the provider's retry goes through", 500, []copyOf{{"a", "d1", nil}}},
		{"failed: once, then accepted", 502, []copyOf{{"a", "d1", nil}, {"a", "d1", ErrDuplicate}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p, req := githubDuplicatePolicy(t)
			first := verify(p, req("a", "d1"))
			if first.Err != nil {
				t.Fatalf("first copy: %v", first.Err)
			}
			if tc.status != 0 {
				p.Delivered(first, tc.status, now)
			}
			for i, c := range tc.copies {
				d := verify(p, req(c.body, c.delivery))
				if !errors.Is(d.Err, c.wantErr) || (c.wantErr == nil && d.Err != nil) {
					t.Fatalf("copy %d: %v, want %v", i, d.Err, c.wantErr)
				}
				p.Delivered(d, http.StatusOK, now)
			}
		})
	}
	t.Run("abandoned: the retry goes through", func(t *testing.T) {
		t.Parallel()
		p, req := githubDuplicatePolicy(t)
		d := verify(p, req("a", "d1"))
		p.Abandon(d)
		p.Delivered(d, http.StatusOK, now) // settled already: records nothing
		if d := verify(p, req("a", "d1")); d.Err != nil {
			t.Fatalf("after Abandon: %v", d.Err)
		}
	})
}

// Twenty copies of one delivery verified at once, with different delivery
// ids: one is let through, the others are in flight. Run with -race.
func TestConcurrentCopiesOneForwarded(t *testing.T) {
	t.Parallel()
	p, req := githubDuplicatePolicy(t)
	now := time.Unix(1_700_000_000, 0)
	const copies = 20
	results := make([]error, copies)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range copies {
		wg.Go(func() {
			r := req(`{"same":"body"}`, fmt.Sprintf("d-%d", i))
			<-start
			d := p.Admit(r, now)
			p.Verify(&d, r, now)
			results[i] = d.Err
		})
	}
	close(start)
	wg.Wait()
	let := 0
	for i, err := range results {
		switch {
		case err == nil:
			let++
		case !errors.Is(err, ErrInFlight):
			t.Errorf("copy %d: %v, want ErrInFlight", i, err)
		}
	}
	if let != 1 {
		t.Fatalf("%d copies let through, want 1", let)
	}
}

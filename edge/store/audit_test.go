package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

func addAudit(tb testing.TB, s Store, e AuditEntry) {
	tb.Helper()
	if err := s.RecordAudit(context.Background(), e); err != nil {
		tb.Fatal(err)
	}
}

func auditIDs(es []AuditEntry) []int64 {
	out := []int64{}
	for _, e := range es {
		out = append(out, e.ID)
	}
	return out
}

func TestAuditRoundTrip(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, s Store) {
		ctx := context.Background()
		want := AuditEntry{At: t0, Actor: "admin", Action: "message.replay", Target: "01JDZ8Q3V6R8M2K7T1C9W4E5XA", Detail: "as 01JDZ8Q3V6R8M2K7T1C9W4E5XB"}
		addAudit(t, s, want)
		got, err := s.AuditLog(ctx, AuditFilter{})
		if err != nil {
			t.Fatal(err)
		}
		want.ID = 1
		if len(got) != 1 || got[0] != want {
			t.Fatalf("AuditLog = %+v; want [%+v]", got, want)
		}
		for _, bad := range []AuditEntry{
			{Actor: "admin", Action: "config.reload"},
			{At: t0, Action: "config.reload"},
			{At: t0, Actor: "admin"},
		} {
			if err := s.RecordAudit(ctx, bad); err == nil {
				t.Errorf("RecordAudit(%+v) accepted", bad)
			}
		}
		empty := another(t, s)
		if got, err := empty.AuditLog(ctx, AuditFilter{}); err != nil || got == nil || len(got) != 0 {
			t.Errorf("empty log = %#v, %v; want an empty, non-nil list", got, err)
		}
	})
}

func TestAuditLogFilters(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, s Store) {
		actions := []string{"message.replay", "config.reload", "token.revoked", "message.delete"}
		for i := range 20 {
			addAudit(t, s, AuditEntry{At: t0.Add(time.Duration(i) * time.Minute), Actor: "local", Action: actions[i%len(actions)], Target: fmt.Sprint(i)})
		}
		ctx := context.Background()
		for _, tc := range []struct {
			name string
			f    AuditFilter
			want []int64
		}{
			{"newest first, default limit", AuditFilter{}, []int64{20, 19, 18, 17, 16, 15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1}},
			{"limit", AuditFilter{Limit: 3}, []int64{20, 19, 18}},
			{"cursor", AuditFilter{Before: 18, Limit: 3}, []int64{17, 16, 15}},
			{"action", AuditFilter{Action: "config.reload"}, []int64{18, 14, 10, 6, 2}},
			{"since", AuditFilter{Since: t0.Add(17 * time.Minute)}, []int64{20, 19, 18}},
			{"everything", AuditFilter{Action: "message.replay", Since: t0.Add(4 * time.Minute), Before: 17, Limit: 2}, []int64{13, 9}},
			{"unknown action", AuditFilter{Action: "nope"}, []int64{}},
			{"limit above the maximum", AuditFilter{Limit: 10_000}, []int64{20, 19, 18, 17, 16, 15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				got, err := s.AuditLog(ctx, tc.f)
				if err != nil {
					t.Fatal(err)
				}
				if fmt.Sprint(auditIDs(got)) != fmt.Sprint(tc.want) {
					t.Errorf("ids %v; want %v", auditIDs(got), tc.want)
				}
			})
		}
		if got, _ := s.AuditLog(ctx, AuditFilter{Limit: maxAuditLimit + 1}); len(got) > maxAuditLimit {
			t.Errorf("%d entries above the maximum", len(got))
		}
	})
}

// The audit trail outlives the journal's retention and the messages it
// is about.
func TestAuditIsNotPurged(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, s Store) {
		ctx := context.Background()
		record(t, s, &Message{ReceivedAt: t0, Tunnel: "a", Decision: "forwarded"})
		addAudit(t, s, AuditEntry{At: t0, Actor: "admin", Action: "config.reload"})
		if n, err := s.Purge(ctx, t0.Add(time.Hour), 0); err != nil || n != 1 {
			t.Fatalf("Purge = %d, %v", n, err)
		}
		if got, err := s.AuditLog(ctx, AuditFilter{}); err != nil || len(got) != 1 {
			t.Errorf("after purge the audit log has %d entries (%v); want 1", len(got), err)
		}
	})
}

func TestAuditSurvivesReopen(t *testing.T) {
	t.Parallel()
	eachDatabase(t, func(t *testing.T, open func() Store) {
		ctx := context.Background()
		s := open()
		addAudit(t, s, AuditEntry{At: t0, Actor: "admin", Action: "token.revoked", Target: "ci"})
		s.Close()
		got, err := open().AuditLog(ctx, AuditFilter{})
		if err != nil || len(got) != 1 || got[0].Target != "ci" {
			t.Errorf("after reopening: %+v, %v", got, err)
		}
	})
}

func TestAuditActionUsesIndex(t *testing.T) {
	t.Parallel()
	s := openTest(t)
	plan := explain(t, s, "SELECT id, at, actor, action, target, detail FROM audit WHERE action = ? ORDER BY id DESC LIMIT ?", "config.reload", 50)
	if !strings.Contains(plan, "audit_action") || strings.Contains(plan, "TEMP B-TREE") {
		t.Errorf("plan %q: want the audit_action index and no sort", plan)
	}
}

func TestDeleteMessage(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, s Store) {
		ctx := context.Background()
		m := &Message{ReceivedAt: t0, Tunnel: "a", Decision: "forwarded", Attempts: []Attempt{{N: 1, At: t0, Status: 200}}}
		record(t, s, m)
		other := &Message{ReceivedAt: t0.Add(time.Second), Tunnel: "a", Decision: "forwarded"}
		record(t, s, other)
		if err := s.DeleteMessage(ctx, m.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Message(ctx, m.ID); !errors.Is(err, ErrNotFound) {
			t.Errorf("Message after delete: %v; want ErrNotFound", err)
		}
		if attempts := queryInt(t, s, "SELECT count(*) FROM attempts WHERE message_id = ?", m.ID); attempts != 0 {
			t.Errorf("%d attempts left", attempts)
		}
		if _, err := s.Message(ctx, other.ID); err != nil {
			t.Errorf("the other message: %v", err)
		}
		if err := s.DeleteMessage(ctx, m.ID); !errors.Is(err, ErrNotFound) {
			t.Errorf("second delete: %v; want ErrNotFound", err)
		}
	})
}

package edge

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/hooktunnel/hooktunnel/edge/store"
	"github.com/hooktunnel/hooktunnel/tunnel"
)

func testStore(t *testing.T) store.Store {
	t.Helper()
	s, err := openStore(Config{Data: t.TempDir()}, &compiled{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestChooseName(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := testStore(t)
	tests := []struct {
		name    string
		tunnels []string
		check   func(string) bool
		wantErr error
	}{
		{"single exact name", []string{"demo"}, func(n string) bool { return n == "demo" }, nil},
		{"any name", []string{"*"}, func(n string) bool { return tunnel.ValidName(n) && strings.Count(n, "-") == 2 }, nil},
		{"prefixed glob", []string{"ci-*"}, func(n string) bool { return strings.HasPrefix(n, "ci-") && tunnel.ValidName(n) }, nil},
		{"several exact names", []string{"a", "b"}, nil, errNameNeeded},
		{"no name the edge can choose", []string{"ci-*-*"}, nil, errNameNeeded},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			g := &grant{tunnels: tc.tunnels, tokenHash: [32]byte{byte(i)}}
			name, err := chooseName(ctx, s, g, "http://127.0.0.1:8000")
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("err = %v, want %v", err, tc.wantErr)
				}
				return
			}
			if err != nil || !tc.check(name) {
				t.Fatalf("chooseName = %q, %v", name, err)
			}
			again, err := chooseName(ctx, s, g, "http://127.0.0.1:8000")
			if err != nil || again != name {
				t.Errorf("second call = %q, %v; want the stored %q", again, err, name)
			}
			other, _ := chooseName(ctx, s, g, "http://127.0.0.1:9000")
			if strings.Contains(tc.tunnels[0], "*") && other == name {
				t.Errorf("another target got the same generated name %q", name)
			}
		})
	}
}

func TestStoreKeepsNamesUnique(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := testStore(t)
	if err := s.AllocateTunnelName(ctx, "k1", "swift-otter-0001"); err != nil {
		t.Fatal(err)
	}
	if err := s.AllocateTunnelName(ctx, "k2", "swift-otter-0001"); err != store.ErrNameTaken {
		t.Fatalf("second key got a taken name: %v", err)
	}
}

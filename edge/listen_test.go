package edge

import (
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

func TestListenNamesTheFlagToChange(t *testing.T) {
	t.Parallel()
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { busy.Close() })
	addr := busy.Addr().String()
	tests := []struct {
		name string
		ln   func() (net.Listener, error)
		want string
	}{
		{"admin", func() (net.Listener, error) { return listen("admin listen", addr, "admin-listen") }, "edge: admin listen " + addr + ": address already in use (another edge? change --admin-listen)"},
		{"public", func() (net.Listener, error) { return listen("listen", addr, "listen") }, "edge: listen " + addr + ": address already in use (another edge? change --listen)"},
		{"plain HTTP", func() (net.Listener, error) { return listenHTTP(addr) }, "edge: http listen " + addr + ": address already in use (another edge? change --http-listen); it answers ACME HTTP-01"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ln, err := tc.ln()
			if err == nil {
				ln.Close()
				t.Fatal("bound a busy port")
			}
			if !strings.HasPrefix(err.Error(), tc.want) || !errors.Is(err, syscall.EADDRINUSE) {
				t.Errorf("error %q, want %q (and EADDRINUSE)", err, tc.want)
			}
		})
	}
}

func TestDataDirNamesTheFlag(t *testing.T) {
	t.Parallel()
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	err := dataDir(filepath.Join(file, "data"))
	if err == nil || !strings.Contains(err.Error(), "data directory "+filepath.Join(file, "data")+": not a directory (pass --data DIR") {
		t.Errorf("error %v, want the directory, the reason and --data", err)
	}
	ok := filepath.Join(t.TempDir(), "a", "b")
	if err := dataDir(ok); err != nil {
		t.Fatal(err)
	}
	if entries, _ := os.ReadDir(ok); len(entries) != 0 {
		t.Errorf("the write check left %v behind", entries)
	}
}

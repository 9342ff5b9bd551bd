// Package pgtest starts a real PostgreSQL server for tests: a cluster of
// its own in a temporary directory, from the Debian postgresql package,
// listening on a loopback port. One server serves a test binary; each test
// gets a fresh database on it.
//
// PostgreSQL refuses to run as root, so under root the server runs as the
// unprivileged user nobody. Where PostgreSQL is not installed the tests
// skip, saying which package to install, except under CI=true where they
// fail: CI installs it, so a skip there would hide a missing install step.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hooktunnel/hooktunnel/test/need"
)

// Server is a running PostgreSQL server of the test binary.
type Server struct {
	dir  string // data directory and socket directory live under it
	bin  string
	port int
	cred *syscall.Credential
	log  string
}

var (
	once    sync.Once
	shared  *Server
	started error
	dbSeq   int
	dbMu    sync.Mutex
)

// Main runs the tests of a package that uses PostgreSQL and stops the
// server afterwards: call it from TestMain as os.Exit(pgtest.Main(m)).
func Main(m *testing.M) int {
	code := m.Run()
	if shared != nil {
		shared.stop()
	}
	return code
}

// URL returns the connection URL of a fresh, empty database for t on the
// shared server, starting the server the first time. The database is
// dropped when t ends.
func URL(t testing.TB) string {
	t.Helper()
	s := Start(t)
	return s.NewDatabase(t)
}

// Start returns the shared server, starting it the first time; it skips
// (or, under CI=true, fails) t when PostgreSQL is not installed.
func Start(t testing.TB) *Server {
	t.Helper()
	bin, ok := need.PostgreSQL()
	if !ok {
		need.Missing(t, need.PostgreSQLMissing)
	}
	once.Do(func() { shared, started = start(bin, true) })
	if started != nil {
		t.Fatalf("pgtest: %v", started)
	}
	return shared
}

// NewDatabase creates a fresh database and returns its URL; it is dropped
// when t ends.
func (s *Server) NewDatabase(t testing.TB) string {
	t.Helper()
	url, name, err := s.CreateDatabase()
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	t.Cleanup(func() {
		// Sessions left by a killed process must not keep the drop from
		// happening.
		s.psql("postgres", "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
	})
	return url
}

// CreateDatabase creates a fresh database and returns its URL and name.
func (s *Server) CreateDatabase() (url, name string, err error) {
	dbMu.Lock()
	dbSeq++
	name = fmt.Sprintf("t%d_%s", dbSeq, randomHex(4))
	dbMu.Unlock()
	if out, err := s.psql("postgres", "CREATE DATABASE "+name); err != nil {
		return "", "", fmt.Errorf("create database: %v\n%s", err, out)
	}
	return s.url(name), name, nil
}

// Launch starts a server of its own for a program that is not a test (the
// benchmark); Stop ends it. Its databases have pg_stat_statements.
func Launch() (*Server, error) {
	bin, ok := need.PostgreSQL()
	if !ok {
		return nil, errors.New(need.PostgreSQLMissing)
	}
	return start(bin, false)
}

// Stop stops a server from Launch and removes its files.
func (s *Server) Stop() { s.stop() }

// URLFor is the URL of database name on the server.
func (s *Server) url(name string) string {
	return fmt.Sprintf("postgres://hooktunnel@127.0.0.1:%d/%s?sslmode=disable", s.port, name)
}

// Port is the server's TCP port on 127.0.0.1.
func (s *Server) Port() int { return s.port }

// Log is the server's log, for a failing test to show.
func (s *Server) Log() string {
	b, _ := os.ReadFile(s.log)
	return string(b)
}

// start starts a server; a fast one, for tests, never syncs to disk.
func start(bin string, fast bool) (*Server, error) {
	dir, err := os.MkdirTemp("", "hooktunnel-pg-")
	if err != nil {
		return nil, err
	}
	s := &Server{dir: dir, bin: bin, log: filepath.Join(dir, "server.log")}
	if os.Geteuid() == 0 {
		cred, err := unprivileged()
		if err != nil {
			return nil, err
		}
		s.cred = cred
		// The server's user must reach its directory.
		if err := os.Chmod(dir, 0o755); err != nil {
			return nil, err
		}
		if err := os.Chown(dir, int(cred.Uid), int(cred.Gid)); err != nil {
			return nil, err
		}
	}
	if out, err := s.run("initdb", "-D", s.data(), "-U", "hooktunnel", "--auth=trust", "-E", "UTF8", "--no-sync"); err != nil {
		return nil, fmt.Errorf("initdb: %v\n%s", err, out)
	}
	// A port that was free a moment ago can be taken before the server
	// binds it: try a few.
	for attempt := 0; attempt < 5; attempt++ {
		if s.port, err = freePort(); err != nil {
			return nil, err
		}
		opts := fmt.Sprintf("-c listen_addresses=127.0.0.1 -p %d -k %s -c max_connections=300 -c shared_buffers=128MB -c shared_preload_libraries=pg_stat_statements",
			s.port, s.dir)
		if fast {
			opts += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
		}
		out, err := s.run("pg_ctl", "-D", s.data(), "-l", s.log, "-o", opts, "-w", "-t", "60", "start")
		if err == nil {
			return s, nil
		}
		if !strings.Contains(s.Log(), "could not bind") && !strings.Contains(s.Log(), "in use") {
			return nil, fmt.Errorf("pg_ctl start: %v\n%s\n%s", err, out, s.Log())
		}
	}
	return nil, fmt.Errorf("pg_ctl start: no free port\n%s", s.Log())
}

func (s *Server) data() string { return filepath.Join(s.dir, "data") }

func (s *Server) stop() {
	s.run("pg_ctl", "-D", s.data(), "-m", "immediate", "-w", "stop")
	os.RemoveAll(s.dir)
}

// run runs one of the server's programs as the server's user.
func (s *Server) run(program string, args ...string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(s.bin, program), args...)
	cmd.Dir = s.dir
	cmd.Env = append(os.Environ(), "LC_ALL=C", "LANG=C")
	if s.cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: s.cred}
	}
	return cmd.CombinedOutput()
}

// psql runs one statement on database db through the psql client.
func (s *Server) psql(db, statement string) ([]byte, error) {
	psql := filepath.Join(s.bin, "psql")
	if _, err := os.Stat(psql); err != nil {
		var err error
		if psql, err = exec.LookPath("psql"); err != nil {
			return nil, errors.New("psql is not installed (apt-get install postgresql-client)")
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, psql, "-X", "-q", "-v", "ON_ERROR_STOP=1",
		"-h", "127.0.0.1", "-p", strconv.Itoa(s.port), "-U", "hooktunnel", "-d", db, "-c", statement)
	return cmd.CombinedOutput()
}

// unprivileged is the user the server runs as under root.
func unprivileged() (*syscall.Credential, error) {
	for _, name := range []string{"postgres", "nobody"} {
		u, err := user.Lookup(name)
		if err != nil {
			continue
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
	}
	return nil, errors.New("running as root, and neither user postgres nor nobody exists to run PostgreSQL as")
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

package certs

import (
	"testing"

	"go.uber.org/goleak"

	"github.com/hooktunnel/hooktunnel/test/pgtest"
)

// TestMain fails the package when a goroutine it started outlives its
// test (an ACME worker, a file watcher, a request to the CA), and stops
// the PostgreSQL server the shared cache's tests started.
func TestMain(m *testing.M) { goleak.VerifyTestMain(withPostgres{m}) }

// withPostgres runs the tests under pgtest.Main, for goleak.
type withPostgres struct{ m *testing.M }

func (w withPostgres) Run() int { return pgtest.Main(w.m) }

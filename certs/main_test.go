package certs

import (
	"testing"

	"github.com/hooktunnel/hooktunnel/test/leakcheck"
)

// TestMain fails the package when a goroutine it started outlives its
// test (an ACME worker, a file watcher, a request to the CA).
func TestMain(m *testing.M) { leakcheck.Main(m, "hooktunnel/certs.") }

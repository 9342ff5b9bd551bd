package edge

import (
	"testing"

	"github.com/hooktunnel/hooktunnel/test/leakcheck"
)

// TestMain fails the package when a goroutine it started outlives its
// test (a journal writer, a queue worker, a session).
func TestMain(m *testing.M) { leakcheck.Main(m, "hooktunnel/edge.", "hashicorp/yamux.") }

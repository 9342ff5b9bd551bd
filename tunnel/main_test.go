package tunnel

import (
	"testing"

	"github.com/hooktunnel/hooktunnel/test/leakcheck"
)

// TestMain fails the package when a goroutine it started outlives its
// test (a session's loops, a control reader).
func TestMain(m *testing.M) { leakcheck.Main(m, "hooktunnel/tunnel.", "hashicorp/yamux.") }

package alert

import (
	"testing"

	"github.com/hooktunnel/hooktunnel/test/leakcheck"
)

// TestMain fails the package when a goroutine it started outlives its
// test (an evaluation loop, a delivery).
func TestMain(m *testing.M) { leakcheck.Main(m, "hooktunnel/edge/alert.") }

package web

import (
	"testing"

	"github.com/hooktunnel/hooktunnel/test/leakcheck"
)

// TestMain fails the package when a goroutine it started outlives its
// test (a browser driver, a test server).
func TestMain(m *testing.M) { leakcheck.Main(m, "hooktunnel/edge/web.") }

package agent

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package when a goroutine it started outlives its
// tests (a session's loops, a second session, a draining server).
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

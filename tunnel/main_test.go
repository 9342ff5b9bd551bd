package tunnel

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package when a goroutine it started outlives its
// test (a session's loops, a control reader).
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

package alert

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package when a goroutine it started outlives its
// test (an evaluation loop, a delivery).
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

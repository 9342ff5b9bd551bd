package edge

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package when a goroutine it started outlives its
// test (a journal writer, a queue worker, a session).
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

package web

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package when a goroutine it started outlives its
// test (a browser driver, a test server).
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

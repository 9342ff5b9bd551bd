package certs

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package when a goroutine it started outlives its
// test (an ACME worker, a file watcher, a request to the CA).
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

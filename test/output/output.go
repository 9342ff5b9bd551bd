// Package output collects what a process under test prints while the test
// reads it: the end-to-end harness, the benchmark and the Pebble tests
// share it.
package output

import (
	"bytes"
	"sync"
)

// Buffer is an io.Writer safe to read from while a process writes to it.
type Buffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// String is everything written so far.
func (b *Buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

package edge

import (
	"bytes"
	"testing"
)

// The journal's copy of a body reserves from the budget what its buffer
// holds: a small body declared as such takes a buffer of its size, not the
// 4 KiB a body of unknown length starts with, and a large declaration buys
// nothing before its bytes arrive.
func TestCappedBufferFirstGrow(t *testing.T) {
	for _, tc := range []struct {
		name     string
		declared int64
		write    int
		wantCap  int
	}{
		{"a 1 KiB webhook", 1 << 10, 1 << 10, 1 << 10},
		{"a 1 KiB webhook written in pieces", 1 << 10, 100, 1 << 10},
		{"no length declared", 0, 1 << 10, firstGrow},
		{"declared larger than the first grow", 1 << 20, 1 << 10, firstGrow},
		{"declared smaller than sent", 10, 1 << 10, 1 << 10},
	} {
		t.Run(tc.name, func(t *testing.T) {
			budget := newBodyBudget(1 << 20)
			c := &cappedBuffer{max: 1 << 20, pooled: true, budget: budget, declared: tc.declared}
			c.Write(bytes.Repeat([]byte("x"), tc.write))
			if cap(c.buf) != tc.wantCap {
				t.Errorf("capacity %d, want %d", cap(c.buf), tc.wantCap)
			}
			if got := budget.used.Load(); got != int64(cap(c.buf)) {
				t.Errorf("budget holds %d for a buffer of %d", got, cap(c.buf))
			}
		})
	}
}

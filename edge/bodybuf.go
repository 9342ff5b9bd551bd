package edge

import (
	"math/bits"
	"sync"
)

// bodyBuffers recycle the buffers that keep a copy of a large request body
// for the journal. A fresh buffer of a megabyte per webhook costs more than
// the copy into it: the runtime zeroes it, and its pages fault in again
// whenever the scavenger has handed them back to the kernel. Capacities are
// powers of two from 64 KiB to 64 MiB.
var bodyBuffers [bodyClasses]sync.Pool

const (
	smallestPooledBody = 64 << 10
	bodyClasses        = 11
)

// bodyClass is the class whose capacity is the smallest power of two that
// holds n; ok is false for sizes not worth pooling (under half the smallest
// class, so no buffer is more than twice what it holds) or too large.
func bodyClass(n int) (class int, ok bool) {
	if n < smallestPooledBody/2 {
		return 0, false
	}
	class = max(0, bits.Len(uint(n-1))-bits.Len(smallestPooledBody-1))
	return class, class < bodyClasses
}

// getBodyBuffer returns an empty buffer with room for n bytes.
func getBodyBuffer(n int) []byte {
	class, ok := bodyClass(n)
	if !ok {
		return make([]byte, 0, n)
	}
	if b, _ := bodyBuffers[class].Get().(*[]byte); b != nil {
		return (*b)[:0]
	}
	return make([]byte, 0, smallestPooledBody<<class)
}

// putBodyBuffer recycles b; the caller no longer uses it, nor does anything
// it handed b to. Buffers of other capacities are left to the collector.
func putBodyBuffer(b []byte) {
	class, ok := bodyClass(cap(b))
	if !ok || cap(b) != smallestPooledBody<<class {
		return
	}
	bodyBuffers[class].Put(&b)
}

package edge

import "testing"

func TestBodyBufferSizes(t *testing.T) {
	tests := []struct {
		n      int
		pooled bool
		cap    int
	}{
		{1 << 10, false, 1 << 10},
		{32<<10 - 1, false, 32<<10 - 1},
		{32 << 10, true, 64 << 10},
		{64 << 10, true, 64 << 10},
		{64<<10 + 1, true, 128 << 10},
		{1 << 20, true, 1 << 20},
		{1<<20 + 1, true, 2 << 20},
		{25 << 20, true, 32 << 20},
		{64 << 20, true, 64 << 20},
		{64<<20 + 1, false, 64<<20 + 1},
	}
	for _, tc := range tests {
		_, pooled := bodyClass(tc.n)
		b := getBodyBuffer(tc.n)
		if pooled != tc.pooled || len(b) != 0 || cap(b) != tc.cap {
			t.Errorf("getBodyBuffer(%d): len %d cap %d pooled %v; want len 0 cap %d pooled %v", tc.n, len(b), cap(b), pooled, tc.cap, tc.pooled)
		}
		putBodyBuffer(b)
	}
}

func TestPutBodyBufferKeepsOnlyPoolSizes(t *testing.T) {
	// A buffer of another capacity would come back as a class it does not
	// fill; putBodyBuffer must leave it to the collector.
	putBodyBuffer(make([]byte, 0, 100<<10))
	for range 100 {
		if b := getBodyBuffer(100 << 10); cap(b) != 128<<10 {
			t.Fatalf("getBodyBuffer(100 KiB) has cap %d, want 128 KiB", cap(b))
		}
	}
}

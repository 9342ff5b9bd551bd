package relay

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

func TestReadDeclared(t *testing.T) {
	payload := func(n int) []byte { return bytes.Repeat([]byte("0123456789abcdef"), n/16+1)[:n] }
	for _, tc := range []struct {
		name     string
		declared int64
		sent     []byte
		want     []byte
		err      error
	}{
		{"one byte", 1, payload(1), payload(1), nil},
		{"a webhook", 1 << 10, payload(1 << 10), payload(1 << 10), nil},
		{"the first read exactly", firstBodyRead, payload(firstBodyRead), payload(firstBodyRead), nil},
		{"one past the first read", firstBodyRead + 1, payload(firstBodyRead + 1), payload(firstBodyRead + 1), nil},
		{"the largest kept", MaxRetryBody, payload(MaxRetryBody), payload(MaxRetryBody), nil},
		{"more sent than declared is cut", 100, payload(200), payload(100), nil},
		{"less sent than declared, no error: what came", 5000, payload(3000), payload(3000), nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// One byte per read: the buffer grows as the bytes arrive.
			for _, r := range []io.Reader{bytes.NewReader(tc.sent), iotest.OneByteReader(bytes.NewReader(tc.sent))} {
				got, err := ReadDeclared(r, tc.declared)
				if !errors.Is(err, tc.err) || !bytes.Equal(got, tc.want) {
					t.Fatalf("ReadDeclared(%d) = %d bytes, %v; want %d bytes, %v", tc.declared, len(got), err, len(tc.want), tc.err)
				}
				if int64(cap(got)) > tc.declared {
					t.Errorf("capacity %d for a body declared %d", cap(got), tc.declared)
				}
			}
		})
	}
}

func TestReadDeclaredPassesTheSendersError(t *testing.T) {
	r := io.MultiReader(strings.NewReader("half"), iotest.ErrReader(io.ErrUnexpectedEOF))
	if _, err := ReadDeclared(r, 100); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("err = %v, want the body's own io.ErrUnexpectedEOF", err)
	}
}

// A webhook's body is read in one allocation of its size: io.ReadAll grew
// a 1 KiB body through three.
func TestReadDeclaredAllocatesOnceForAWebhook(t *testing.T) {
	body := bytes.Repeat([]byte("x"), 1<<10)
	r := bytes.NewReader(body)
	allocs := testing.AllocsPerRun(100, func() {
		r.Reset(body)
		if _, err := ReadDeclared(r, int64(len(body))); err != nil {
			t.Fatal(err)
		}
	})
	if allocs > 1 {
		t.Fatalf("%.0f allocations to read a 1 KiB body, want 1", allocs)
	}
}

func TestReadDeclaredNeverAllocatesMoreThanTheFirstReadBeforeBytesArrive(t *testing.T) {
	got, err := ReadDeclared(strings.NewReader(""), MaxRetryBody)
	if err != nil || len(got) != 0 {
		t.Fatalf("got %d bytes, %v", len(got), err)
	}
	if cap(got) > firstBodyRead {
		t.Fatalf("a body declared %d and never sent took %d bytes", MaxRetryBody, cap(got))
	}
}

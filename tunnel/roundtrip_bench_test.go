package tunnel_test

import (
	"context"
	"io"
	"sync"
	"testing"

	"github.com/hooktunnel/hooktunnel/tunnel"
	"github.com/hooktunnel/hooktunnel/tunnel/tunneltest"
)

// BenchmarkStreamRoundTrip is one request at a time over a session: 1 KiB
// to the agent's side, echoed back, on streams kept open, as the edge
// keeps its streams to an agent. Run with -cpu 1,2 and -count; ns/op is
// the round trip.
func BenchmarkStreamRoundTrip(b *testing.B) {
	for _, conns := range []int{1, 64} {
		b.Run(map[int]string{1: "1 stream", 64: "64 streams"}[conns], func(b *testing.B) {
			edgeSide, agentSide := tunneltest.SessionPair(b, func(*tunnel.Session) tunnel.Control { return tunnel.Control{} })
			go func() {
				for {
					st, err := agentSide.Accept()
					if err != nil {
						return
					}
					go func() {
						buf := make([]byte, 1024)
						for {
							if _, err := io.ReadFull(st, buf); err != nil {
								st.Close()
								return
							}
							if _, err := st.Write(buf); err != nil {
								return
							}
						}
					}()
				}
			}()
			streams := make([]io.ReadWriteCloser, conns)
			for i := range streams {
				st, err := edgeSide.Open(context.Background())
				if err != nil {
					b.Fatal(err)
				}
				defer st.Close()
				streams[i] = st
			}
			b.SetBytes(1024)
			b.ResetTimer()
			var wg sync.WaitGroup
			per := b.N / conns
			for i, st := range streams {
				n := per
				if i == 0 {
					n += b.N % conns
				}
				wg.Add(1)
				go func() {
					defer wg.Done()
					buf := make([]byte, 1024)
					for range n {
						if _, err := st.Write(buf); err != nil {
							b.Error(err)
							return
						}
						if _, err := io.ReadFull(st, buf); err != nil {
							b.Error(err)
							return
						}
					}
				}()
			}
			wg.Wait()
		})
	}
}

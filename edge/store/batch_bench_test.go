package store

import (
	"context"
	"net/http"
	"testing"
	"time"
)

// BenchmarkRecordAll is the journal's cost per forwarded webhook: batches
// of 256 messages with headers, a 1 KiB body and one attempt.
func BenchmarkRecordAll(b *testing.B) {
	s := openTest(b)
	ctx := context.Background()
	body := make([]byte, 1024)
	header := http.Header{"Content-Type": {"application/json"}, "User-Agent": {"GitHub-Hookshot/abc"}, "X-Github-Delivery": {"72d3162e-cc78-11e3-81ab-4c9367dc0958"}}
	b.ResetTimer()
	for b.Loop() {
		now := time.Now()
		batch := make([]*Message, 256)
		for i := range batch {
			batch[i] = &Message{ID: NewMessageID(now), ReceivedAt: now, Tunnel: "gh", Route: "/hook", SourceIP: "192.30.252.1",
				Method: "POST", Path: "/hook", Header: header, Body: body, BodySize: 1024, Decision: "forwarded", Status: 200,
				ResponseHeader: header, Attempts: []Attempt{{N: 1, At: now, Status: 200}}}
		}
		if err := s.RecordAll(ctx, batch); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*256), "ns/message")
}

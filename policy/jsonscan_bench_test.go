package policy

import (
	"encoding/json"
	"testing"
)

// BenchmarkParseJSONDoc is the check and index of a 10 KiB GitHub
// delivery every JSON read of a body starts with, next to encoding/json's
// own check (which decoding the whole body used to run first).
func BenchmarkParseJSONDoc(b *testing.B) {
	body := payload(b, "github_pull_request_opened")
	b.Run("jsonDoc", func(b *testing.B) {
		b.SetBytes(int64(len(body)))
		for b.Loop() {
			if _, ok := parseJSONDoc(body); !ok {
				b.Fatal("not JSON")
			}
		}
	})
	b.Run("json.Valid", func(b *testing.B) {
		b.SetBytes(int64(len(body)))
		for b.Loop() {
			if !json.Valid(body) {
				b.Fatal("not JSON")
			}
		}
	})
}

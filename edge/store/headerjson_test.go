package store

import (
	"net/http"
	"testing"
)

// TestHeaderJSON: the journal's header text is what encoding/json wrote
// before appendHeaderJSON, so rows old and new read and search alike.
func TestHeaderJSON(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		h    http.Header
	}{
		{"empty", http.Header{}},
		{"sorted keys", http.Header{"X-B": {"2"}, "Content-Type": {"application/json"}, "A": {"1", "2"}}},
		{"nil and empty values", http.Header{"X-Nil": nil, "X-Empty": {}, "X-Blank": {""}}},
		{"escapes", http.Header{"X": {"a\"b\\c\nd\re\tf\bg\fh\x00i\x1fj\x7fk"}}},
		{"html stays", http.Header{"X": {"<script>&amp;</script>"}}},
		{"utf-8", http.Header{"X": {"héllo wörld ✓ 𝄞"}, "Ключ": {"значение"}}},
		{"invalid utf-8", http.Header{"X": {"a\xffb\xc3", "\xe2\x80"}}},
		{"line separators", http.Header{"X": {"a\u2028b\u2029c"}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			checkHeaderJSON(t, tc.h)
		})
	}
}

func checkHeaderJSON(t *testing.T, h http.Header) {
	t.Helper()
	want, err := jsonText(h)
	if err != nil {
		t.Fatal(err)
	}
	if got := string(appendHeaderJSON(nil, h)); got != want {
		t.Errorf("appendHeaderJSON = %q; encoding/json wrote %q", got, want)
	}
}

// FuzzHeaderJSON compares appendHeaderJSON with encoding/json on any
// header name and values (the edge journals what senders send).
func FuzzHeaderJSON(f *testing.F) {
	f.Add("Content-Type", "application/json", "x")
	f.Add("X-\xff", "\u2028\x00\"\\", "<&>")
	f.Add("", "", "\xed\xa0\x80")
	f.Fuzz(func(t *testing.T, k, v1, v2 string) {
		checkHeaderJSON(t, http.Header{k: {v1, v2}, k + "2": {v2}, "Z" + k: nil})
	})
}

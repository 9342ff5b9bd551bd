package agent

import (
	"encoding/json"
	"io"
	"net/http"
	"unicode/utf8"
)

// EchoHandler is the demo app of `hooktunnel dev --echo`: it answers each
// request with what it received, as JSON, so a user sees exactly what an
// app behind the tunnel gets.
func EchoHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		if err != nil {
			http.Error(w, "reading body: "+err.Error(), http.StatusBadRequest)
			return
		}
		echo := map[string]any{
			"method":  r.Method,
			"host":    r.Host,
			"path":    r.URL.Path,
			"query":   r.URL.Query(),
			"headers": r.Header,
		}
		var parsed any
		switch {
		case json.Unmarshal(body, &parsed) == nil:
			echo["json"] = parsed
		case utf8.Valid(body):
			echo["body"] = string(body)
		default:
			echo["body_bytes"] = len(body)
		}
		w.Header().Set("Content-Type", "application/json")
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		_ = enc.Encode(echo)
	})
}

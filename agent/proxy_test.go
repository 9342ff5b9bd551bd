package agent

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

// cutBody yields some bytes, then fails, as a body the edge ended early
// reads on the agent's side.
type cutBody struct{ sent bool }

func (b *cutBody) Read(p []byte) (int, error) {
	if !b.sent {
		b.sent = true
		return copy(p, strings.Repeat("x", 1000)), nil
	}
	return 0, io.ErrUnexpectedEOF
}

func (b *cutBody) Close() error { return nil }

// A request whose body the edge cut short must never come back as a 200
// (the implicit answer of a handler that writes nothing), nor be blamed
// on the app: the edge journals what the agent says.
func TestBodyCutShortIsNotAnAppAnswer(t *testing.T) {
	t.Parallel()
	app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, err := io.Copy(io.Discard, r.Body); err != nil {
			return // an app that gives up on a half body: an implicit 200
		}
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(app.Close)
	target, _ := url.Parse(app.URL)
	proxy := newProxy(target, "", newTransport(nil), func(string, ...any) {})

	req := httptest.NewRequest(http.MethodPost, "http://demo.localhost/hook", &cutBody{})
	req.ContentLength = 100_000
	rec := httptest.NewRecorder()
	proxy.ServeHTTP(rec, req)
	if rec.Code != http.StatusBadRequest || rec.Header().Get("Hooktunnel-Error") != "body_aborted" {
		t.Fatalf("status %d, Hooktunnel-Error %q, want 400 body_aborted", rec.Code, rec.Header().Get("Hooktunnel-Error"))
	}
}

func TestAppFailedAlwaysAnswers(t *testing.T) {
	t.Parallel()
	target, _ := url.Parse("http://127.0.0.1:1")
	tests := []struct {
		name     string
		err      error
		cancel   bool
		wantCode string
	}{
		{"app refused", errors.New("connection reset"), false, "app_error"},
		{"edge cancelled", errors.New("context canceled"), true, "request_cancelled"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req := httptest.NewRequest(http.MethodPost, "http://demo.localhost/hook", nil)
			if tc.cancel {
				ctx, cancel := contextWithCancel(req)
				cancel()
				req = req.WithContext(ctx)
			}
			rec := httptest.NewRecorder()
			appFailed(rec, req, target, tc.err, func(string, ...any) {})
			if rec.Code == http.StatusOK || rec.Header().Get("Hooktunnel-Error") != tc.wantCode {
				t.Fatalf("status %d, code %q, want an error status with %q", rec.Code, rec.Header().Get("Hooktunnel-Error"), tc.wantCode)
			}
			if strings.Contains(rec.Body.String(), "127.0.0.1") {
				t.Errorf("the answer names the app's address: %s", rec.Body.String())
			}
		})
	}
}

func contextWithCancel(r *http.Request) (context.Context, context.CancelFunc) {
	return context.WithCancel(r.Context())
}

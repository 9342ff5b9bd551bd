package agent

import (
	"context"
	"net/url"
	"reflect"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// said collects the lines a watch says.
type said struct {
	mu    sync.Mutex
	lines []string
}

func (s *said) say(line string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lines = append(s.lines, line)
}

func (s *said) get() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.lines...)
}

func TestTargetWatch(t *testing.T) {
	t.Parallel()
	const addr = "127.0.0.1:8000"
	tests := []struct {
		name   string
		upFrom int // the try from which the app accepts; 0: never
		want   []string
	}{
		{"the app is up at start", 1, nil},
		{"the app comes up later", 4, []string{
			"nothing accepts connections on 127.0.0.1:8000 yet: is the app running?",
			"the app on 127.0.0.1:8000 is up",
		}},
		{"the app never comes up", 0, []string{
			"nothing accepts connections on 127.0.0.1:8000 yet: is the app running?",
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				ctx, cancel := context.WithCancel(t.Context())
				var s said
				tries := 0
				w := targetWatch{addr: addr, every: 2 * time.Second, say: s.say,
					accepts: func(context.Context, string) bool {
						tries++
						return tc.upFrom > 0 && tries >= tc.upFrom
					}}
				done := make(chan struct{})
				go func() {
					defer close(done)
					w.run(ctx)
				}()
				time.Sleep(time.Minute) // fake time: the watch tries every 2s meanwhile
				synctest.Wait()
				cancel()
				<-done
				if got := s.get(); !reflect.DeepEqual(got, tc.want) {
					t.Errorf("said %q, want %q", got, tc.want)
				}
				if tc.upFrom > 0 && tries != tc.upFrom {
					t.Errorf("%d tries, want %d: the watch stops once the app is up", tries, tc.upFrom)
				}
			})
		})
	}
}

func TestTargetAddr(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, want string }{
		{"http://127.0.0.1:8000", "127.0.0.1:8000"},
		{"http://demo.localhost", "demo.localhost:80"},
		{"https://app.internal", "app.internal:443"},
		{"https://[::1]:8443/base", "[::1]:8443"},
	}
	for _, tc := range tests {
		u, _ := url.Parse(tc.in)
		if got := targetAddr(u); got != tc.want {
			t.Errorf("targetAddr(%s) = %s, want %s", tc.in, got, tc.want)
		}
	}
}

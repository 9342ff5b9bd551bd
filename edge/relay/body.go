package relay

import (
	"io"
	"sync"
)

// WatchedBody remembers the first error reading a sender's body, so a
// failure of the body can be told from one of the agent or the app.
type WatchedBody struct {
	io.ReadCloser
	mu  sync.Mutex // a stream may still be reading when the handler asks
	err error
}

func (w *WatchedBody) Read(p []byte) (int, error) {
	n, err := w.ReadCloser.Read(p)
	if err != nil && err != io.EOF {
		w.mu.Lock()
		if w.err == nil {
			w.err = err
		}
		w.mu.Unlock()
	}
	return n, err
}

// Failed is the first error reading the body, nil while there is none.
func (w *WatchedBody) Failed() error {
	if w == nil {
		return nil
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.err
}

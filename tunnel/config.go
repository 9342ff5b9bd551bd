package tunnel

import (
	"errors"
	"io"
	"log/slog"
	"time"

	"github.com/hashicorp/yamux"
)

// Config tunes a session. Both sides use the same shape.
type Config struct {
	// KeepAliveInterval is how often each side pings the other, and
	// KeepAliveTimeout how long it waits for the answer before it declares
	// the peer dead; their sum bounds how long a frozen peer goes unnoticed.
	KeepAliveInterval time.Duration
	KeepAliveTimeout  time.Duration
	// HandshakeTimeout bounds the Hello/Welcome exchange.
	HandshakeTimeout time.Duration
	// MaxStreamWindow is the per-stream flow-control window: how much one
	// request or response may have in flight before the reader catches up.
	MaxStreamWindow uint32
	// AcceptBacklog bounds streams opened but not yet accepted.
	AcceptBacklog int
	Logger        *slog.Logger
}

// DefaultConfig notices a dead peer within 10 s.
func DefaultConfig() Config {
	return Config{
		KeepAliveInterval: 5 * time.Second,
		KeepAliveTimeout:  5 * time.Second,
		HandshakeTimeout:  10 * time.Second,
		MaxStreamWindow:   1 << 20,
		AcceptBacklog:     512,
		Logger:            slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
}

// VerifyConfig checks c for values yamux would reject or that would make
// dead-peer detection meaningless.
func VerifyConfig(c Config) error {
	switch {
	case c.KeepAliveInterval <= 0 || c.KeepAliveTimeout <= 0:
		return errors.New("tunnel: keepalive interval and timeout must be positive")
	case c.HandshakeTimeout <= 0:
		return errors.New("tunnel: handshake timeout must be positive")
	case c.MaxStreamWindow < 256<<10:
		return errors.New("tunnel: stream window must be at least 256 KiB")
	case c.AcceptBacklog <= 0:
		return errors.New("tunnel: accept backlog must be positive")
	case c.Logger == nil:
		return errors.New("tunnel: logger is required")
	}
	return nil
}

func (c Config) yamux() *yamux.Config {
	y := yamux.DefaultConfig()
	y.AcceptBacklog = c.AcceptBacklog
	y.EnableKeepAlive = true
	y.KeepAliveInterval = c.KeepAliveInterval
	y.ConnectionWriteTimeout = c.KeepAliveTimeout
	y.MaxStreamWindowSize = c.MaxStreamWindow
	y.StreamOpenTimeout = c.HandshakeTimeout
	y.StreamCloseTimeout = time.Minute
	y.LogOutput = nil
	y.Logger = slog.NewLogLogger(c.Logger.Handler(), slog.LevelDebug)
	return y
}

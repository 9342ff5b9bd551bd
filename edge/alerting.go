package edge

import (
	"context"
	"reflect"
	"sync"
	"sync/atomic"

	"github.com/hooktunnel/hooktunnel/edge/alert"
)

// alerting holds the running alert engine. A reload that changes the
// `alerts:` section swaps in a new engine: the old one stops (its firing
// alerts are forgotten and re-fire if their condition still holds).
type alerting struct {
	current atomic.Pointer[alert.Engine]
	cfg     alert.Config // the section the current engine was built from

	mu     sync.Mutex
	ctx    context.Context // the edge's background context
	cancel context.CancelFunc
	done   chan struct{}
}

// engine is the current engine; nil when there is none, which the
// engine's methods accept.
func (a *alerting) engine() *alert.Engine { return a.current.Load() }

// start runs eng until ctx ends or it is replaced.
func (a *alerting) start(ctx context.Context, eng *alert.Engine) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.ctx = ctx
	a.runLocked(eng)
}

func (a *alerting) runLocked(eng *alert.Engine) {
	runCtx, cancel := context.WithCancel(a.ctx)
	done := make(chan struct{})
	a.cancel, a.done = cancel, done
	go func() {
		defer close(done)
		_ = eng.Run(runCtx)
	}()
}

// replace swaps in an engine built from cfg when cfg differs from the
// running one's; build errors leave the running engine.
func (a *alerting) replace(cfg alert.Config, build func(alert.Config) (*alert.Engine, error)) (bool, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if reflect.DeepEqual(cfg, a.cfg) || a.ctx == nil {
		return false, nil
	}
	eng, err := build(cfg)
	if err != nil {
		return false, err
	}
	a.cancel()
	<-a.done
	a.current.Store(eng)
	a.cfg = cfg
	a.runLocked(eng)
	return true, nil
}

// wait returns when the running engine has stopped (after the edge's
// background context ended).
func (a *alerting) wait() {
	a.mu.Lock()
	done := a.done
	a.mu.Unlock()
	if done != nil {
		<-done
	}
}

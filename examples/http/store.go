package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gravestench/servicemesh"
)

// store counts visits in memory. It stands in for a database client.
type store struct {
	cfg    *config
	logger *slog.Logger

	open   atomic.Bool
	mu     sync.Mutex
	visits map[string]int
}

func (s *store) Name() string                  { return "store" }
func (s *store) SetLogger(logger *slog.Logger) { s.logger = logger }
func (s *store) Logger() *slog.Logger          { return s.logger }

// Requirements declares what the store needs: the mesh fills cfg before
// InitContext, once the config service runs.
func (s *store) Requirements() []servicemesh.Requirement {
	return []servicemesh.Requirement{servicemesh.Require(&s.cfg)}
}

// Init is required by servicemesh.Service; InitContext is called instead.
func (s *store) Init(servicemesh.Mesh) {}

// InitContext opens the store. Its error makes the service failed, and
// reaches main through RunContext.
func (s *store) InitContext(ctx context.Context, _ servicemesh.Mesh) error {
	s.logger.Info("opening")
	select { // a connection being set up
	case <-time.After(50 * time.Millisecond):
	case <-ctx.Done():
		return fmt.Errorf("open: %w", context.Cause(ctx))
	}
	if s.cfg.FailStore {
		return errors.New("open: connection refused (simulated: -fail-store or STORE_FAIL)")
	}
	s.visits = make(map[string]int)
	s.open.Store(true)
	return nil
}

// Ready reports whether the store is open; the server waits for it.
func (s *store) Ready() bool { return s.open.Load() }

// HealthCheck is what /readyz asks, at most once a second: a real client
// would ping its server here, bounded by ctx.
func (s *store) HealthCheck(context.Context) error {
	if !s.open.Load() {
		return errors.New("store is closed")
	}
	return nil
}

// Visit counts a visit of name and returns how many there were.
func (s *store) Visit(name string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.visits[name]++
	return s.visits[name]
}

// OnShutdown closes the store. The server, which holds it, has stopped.
func (s *store) OnShutdown() {
	s.open.Store(false)
	fmt.Println("store: closed")
}

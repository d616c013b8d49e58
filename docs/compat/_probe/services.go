package main

import (
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gravestench/servicemesh"
)

// The services the probe's cases are made of, written as the original's
// users write them.

// plain has only Init and Name.
type plain struct {
	name  string
	order *[]string
	mu    *sync.Mutex
	done  atomic.Bool
}

func (p *plain) Name() string { return p.name }
func (p *plain) Init(servicemesh.Mesh) {
	if p.order != nil {
		p.mu.Lock()
		*p.order = append(*p.order, p.name)
		p.mu.Unlock()
	}
	p.done.Store(true)
}
func (p *plain) initialized() bool { return p.done.Load() }

// initialized is implemented by services that say when their Init has
// returned; needs with afterInit waits for it.
type initialized interface{ initialized() bool }

// stopper has an OnShutdown that takes d (forever when d < 0).
type stopper struct {
	name  string
	d     time.Duration
	inits atomic.Int32
	stops atomic.Int32
}

func (s *stopper) Name() string { return s.name }
func (s *stopper) Init(servicemesh.Mesh) {
	s.inits.Add(1)
	say("Init %s", s.name)
}
func (s *stopper) OnShutdown() {
	s.stops.Add(1)
	say("OnShutdown %s begins", s.name)
	if s.d < 0 {
		select {}
	}
	time.Sleep(s.d)
	say("OnShutdown %s ends", s.name)
}

// needs resolves the service named want and holds it in a field.
type needs struct {
	name      string
	want      string
	afterInit bool // take it only once its Init has returned
	d         time.Duration
	found     servicemesh.Service
	calls     atomic.Int32
	done      atomic.Bool
	initAt    atomic.Int64 // when Init began, in ns since start
}

func (n *needs) Name() string { return n.name }
func (n *needs) Init(servicemesh.Mesh) {
	n.initAt.Store(int64(time.Since(start)))
	say("Init %s", n.name)
	n.done.Store(true)
}
func (n *needs) initialized() bool          { return n.done.Load() }
func (n *needs) DependenciesResolved() bool { return n.found != nil }
func (n *needs) ResolveDependencies(services []servicemesh.Service) {
	n.calls.Add(1)
	for _, s := range services {
		if s.Name() != n.want {
			continue
		}
		if i, ok := s.(initialized); n.afterInit && (!ok || !i.initialized()) {
			continue
		}
		n.found = s
	}
}
func (n *needs) OnShutdown() {
	say("OnShutdown %s begins", n.name)
	time.Sleep(n.d)
	say("OnShutdown %s ends", n.name)
}

// listener records the lifecycle events it receives through the handler
// interfaces, and the subject of each.
type listener struct {
	name string
	log  *slog.Logger
	mu   sync.Mutex
	got  []string
}

func (l *listener) Name() string              { return l.name }
func (l *listener) Init(servicemesh.Mesh)     {}
func (l *listener) SetLogger(lg *slog.Logger) { l.log = lg }
func (l *listener) Logger() *slog.Logger      { return l.log }
func (l *listener) rec(ev string, s string) {
	l.mu.Lock()
	l.got = append(l.got, ev+"("+s+")")
	l.mu.Unlock()
}
func (l *listener) OnServiceEventsBound(s servicemesh.Service) { l.rec("EventsBound", s.Name()) }
func (l *listener) OnServiceLoggerBound(s servicemesh.Service) { l.rec("LoggerBound", s.Name()) }
func (l *listener) OnServiceAdded(s servicemesh.Service)       { l.rec("Added", s.Name()) }
func (l *listener) OnServiceInitialized(s servicemesh.Service) { l.rec("Initialized", s.Name()) }
func (l *listener) events() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.got, " ")
}

// failObserver prints the dependency resolution failures it is told.
type failObserver struct{}

func (*failObserver) Name() string          { return "observer" }
func (*failObserver) Init(servicemesh.Mesh) {}
func (*failObserver) OnDependencyResolutionFailed(s servicemesh.Service, err error) {
	say("EventDependencyResolutionFailed %s: %q", s.Name(), err.Error())
}

type panicker struct{}

func (*panicker) Name() string          { return "panicker" }
func (*panicker) Init(servicemesh.Mesh) { panic("boom") }

// chatty logs from a goroutine of its own, reading its logger field.
type chatty struct {
	log *slog.Logger
}

func (c *chatty) Name() string             { return "chatty" }
func (c *chatty) SetLogger(l *slog.Logger) { c.log = l }
func (c *chatty) Logger() *slog.Logger     { return c.log }
func (c *chatty) Init(servicemesh.Mesh) {
	go func() {
		for {
			c.log.Debug("tick")
			time.Sleep(time.Millisecond)
		}
	}()
}

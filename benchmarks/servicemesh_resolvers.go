package benchmarks

import (
	"sync"

	"github.com/gravestench/servicemesh"
)

// The resolvers of S2, S3 and S5 are written the way users of the original
// library write theirs (HasDependencies): ResolveDependencies goes through
// every service of the list with a type switch and keeps the one it needs
// in a field; DependenciesResolved returns whether that field is set and,
// where the scenario needs it, whether the service found has finished its
// Init (as users check a renderer's IsInit). The mesh may call the two on
// different goroutines, so each service guards its field with a mutex of
// its own; no lock is shared by two services, and none is held while
// another service's method is called.

// meshLink is one link of the S2 chain: it needs the link with index dep.
type meshLink struct {
	name  string
	idx   int
	dep   int // index of the link it needs, or -1 at the end of the chain
	order *order

	mu          sync.Mutex // guards next and initialized
	next        *meshLink  // the link it needs, once ResolveDependencies found it
	initialized bool       // whether its own Init has finished
}

func (l *meshLink) Name() string { return l.name }

// Init records whether the link it needs, and no other, had finished its
// Init by then.
func (l *meshLink) Init(servicemesh.Mesh) {
	l.mu.Lock()
	next := l.next
	l.mu.Unlock()
	l.order.add(l.idx, l.dep < 0 || (next != nil && next.idx == l.dep && next.IsInit()))
	l.mu.Lock()
	l.initialized = true
	l.mu.Unlock()
}

// IsInit reports whether l's Init has finished.
func (l *meshLink) IsInit() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.initialized
}

// DependenciesResolved is true once the link it needs is found and has
// finished its Init.
func (l *meshLink) DependenciesResolved() bool {
	if l.dep < 0 {
		return true
	}
	l.mu.Lock()
	next := l.next
	l.mu.Unlock()
	return next != nil && next.IsInit()
}

// ResolveDependencies keeps the link with index dep, if the list has it.
func (l *meshLink) ResolveDependencies(services []servicemesh.Service) {
	for _, service := range services {
		switch candidate := service.(type) {
		case *meshLink:
			if candidate.idx == l.dep {
				l.mu.Lock()
				l.next = candidate
				l.mu.Unlock()
			}
		}
	}
}

// meshDB is the service every meshUser of S3 (and meshReqUser of the
// Require fan-in) needs.
type meshDB struct {
	mu          sync.Mutex // guards initialized
	initialized bool       // whether Init has finished
}

func (d *meshDB) Name() string { return "db" }

func (d *meshDB) Init(servicemesh.Mesh) {
	d.mu.Lock()
	d.initialized = true
	d.mu.Unlock()
}

// IsInit reports whether d's Init has finished.
func (d *meshDB) IsInit() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.initialized
}

// meshUser is one of the S3 services that need the db: it is resolved
// once it has found the db and the db's Init has finished.
type meshUser struct {
	name  string
	idx   int
	order *order

	mu sync.Mutex // guards db
	db *meshDB    // the db, once ResolveDependencies found it
}

func (u *meshUser) Name() string { return u.name }

func (u *meshUser) Init(servicemesh.Mesh) {
	u.order.add(u.idx, u.DependenciesResolved())
}

func (u *meshUser) DependenciesResolved() bool {
	u.mu.Lock()
	db := u.db
	u.mu.Unlock()
	return db != nil && db.IsInit()
}

func (u *meshUser) ResolveDependencies(services []servicemesh.Service) {
	for _, service := range services {
		switch candidate := service.(type) {
		case *meshDB:
			u.mu.Lock()
			u.db = candidate
			u.mu.Unlock()
		}
	}
}

// meshHolder is one service of the S5 chain: it holds the service before
// it in prev, which ResolveDependencies finds and the mesh reads as a
// dependency; its OnShutdown records its position.
type meshHolder struct {
	name  string
	idx   int
	stops *stopOrder

	mu   sync.Mutex  // guards prev
	prev *meshHolder // the service before it once found; nil for the first
}

func (h *meshHolder) Name() string          { return h.name }
func (h *meshHolder) Init(servicemesh.Mesh) {}
func (h *meshHolder) OnShutdown()           { h.stops.stop(h.idx) }

func (h *meshHolder) DependenciesResolved() bool {
	if h.idx == 0 {
		return true
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.prev != nil
}

func (h *meshHolder) ResolveDependencies(services []servicemesh.Service) {
	for _, service := range services {
		switch candidate := service.(type) {
		case *meshHolder:
			if candidate.idx == h.idx-1 && candidate.stops == h.stops {
				h.mu.Lock()
				h.prev = candidate
				h.mu.Unlock()
			}
		}
	}
}

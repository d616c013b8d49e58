// Command shutdown shows a graceful shutdown: the program runs until it
// receives SIGINT (Ctrl+C) or SIGTERM, then every service's OnShutdown is
// called, newest-initialized first.
//
// Three services depend on each other in a chain, api -> cache -> store.
// Each waits in DependenciesResolved until what it needs is ready, so they
// are initialized store, cache, api, and stopped in reverse: api, cache,
// store. A service thus stops before what it depends on.
//
// Finding a dependency does not by itself wait for its Init: the mesh hands
// resolvers services that are not yet initialized (so that cycles can
// resolve). Checking Ready, which each service turns true in its Init, is
// what orders start and stop. Services that declare no dependencies at all
// cannot depend on each other through the mesh, so a run of them stops
// concurrently.
//
// Run it from the repository root, then press Ctrl+C:
//
//	go run ./examples/shutdown
package main

import (
	"fmt"
	"sync/atomic"

	"github.com/gravestench/servicemesh"
)

// Store keeps data.
type Store interface {
	Ready() bool
	Get(key string) string
}

// Cache sits in front of a Store.
type Cache interface {
	Ready() bool
	Lookup(key string) string
}

// started is embedded by the services to report whether their Init ran.
type started struct{ done atomic.Bool }

func (s *started) Ready() bool { return s.done.Load() }

// store depends on nothing.
type store struct{ started }

func (s *store) Name() string          { return "store" }
func (s *store) OnShutdown()           { fmt.Println("store: stopped") }
func (s *store) Get(key string) string { return "value of " + key }
func (s *store) Init(servicemesh.Mesh) {
	fmt.Println("store: started")
	s.done.Store(true)
}

// cache needs a ready Store.
type cache struct {
	started
	store Store
}

func (c *cache) Name() string               { return "cache" }
func (c *cache) OnShutdown()                { fmt.Println("cache: stopped") }
func (c *cache) Lookup(key string) string   { return c.store.Get(key) }
func (c *cache) DependenciesResolved() bool { return c.store != nil && c.store.Ready() }
func (c *cache) ResolveDependencies(services []servicemesh.Service) {
	for _, s := range services {
		if st, ok := s.(Store); ok {
			c.store = st
		}
	}
}

func (c *cache) Init(servicemesh.Mesh) {
	fmt.Println("cache: started")
	c.done.Store(true)
}

// api needs a ready Cache, and says when the program is ready for a signal.
type api struct{ cache Cache }

func (a *api) Name() string               { return "api" }
func (a *api) OnShutdown()                { fmt.Println("api: stopped") }
func (a *api) DependenciesResolved() bool { return a.cache != nil && a.cache.Ready() }
func (a *api) ResolveDependencies(services []servicemesh.Service) {
	for _, s := range services {
		if c, ok := s.(Cache); ok {
			a.cache = c
		}
	}
}

func (a *api) Init(servicemesh.Mesh) {
	fmt.Printf("api: started (the cache says %q)\n", a.cache.Lookup("greeting"))
}

// OnServiceMeshRunLoopInitiated runs once Run is listening for signals:
// from then on Ctrl+C means a graceful shutdown.
func (a *api) OnServiceMeshRunLoopInitiated() {
	fmt.Println("ready: press Ctrl+C or send SIGTERM to stop")
}

func main() {
	mesh := servicemesh.New("shutdown example")

	// Added in any order; the dependencies decide the order of Init.
	// Waiting for every Init before Run means the run loop starts, and
	// "ready" is printed, only once all three have started.
	wgs := []interface{ Wait() }{
		mesh.Add(&api{}),
		mesh.Add(&cache{}),
		mesh.Add(&store{}),
	}
	for _, wg := range wgs {
		wg.Wait()
	}

	mesh.Run()
	fmt.Println("main: every service has stopped")
}

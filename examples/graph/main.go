// Command graph prints the dependency graph a mesh sees, then shuts the
// mesh down in the order that graph gives.
//
// Five services hold each other in fields, which is all the mesh looks at
// to know who depends on whom:
//
//	api   holds cache and config
//	cache holds db
//	db    holds config
//	admin holds the Mesh itself
//
// A service that holds the Mesh may look up any service while it stops, so
// the mesh counts it as depending on every service whose Init began before
// its own; those edges are drawn dotted (Mermaid) or dashed (DOT).
//
// The graph goes to standard output, as a Mermaid flowchart (GitHub renders
// one in a ```mermaid block) or, with -dot, in Graphviz's DOT language; the
// rest, the stop order included, goes to standard error. Run it from the
// repository root:
//
//	go run ./examples/graph
//	go run ./examples/graph -dot | dot -Tsvg > graph.svg
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/gravestench/servicemesh"
)

// stopped reports a service's stop, so the order can be seen.
type stopped struct{ name string }

func (s *stopped) Name() string { return s.name }
func (s *stopped) OnShutdown()  { fmt.Fprintf(os.Stderr, "%s: stopped\n", s.name) }

// config depends on nothing.
type config struct{ stopped }

func (c *config) Init(servicemesh.Mesh) {}

// db holds the config.
type db struct {
	stopped
	cfg *config
}

func (d *db) Init(servicemesh.Mesh)      {}
func (d *db) DependenciesResolved() bool { return d.cfg != nil }
func (d *db) ResolveDependencies(services []servicemesh.Service) {
	d.cfg, _ = servicemesh.Find[*config](services)
}

// Cache is what api needs from the cache: an interface field counts too.
type Cache interface{ Lookup(key string) string }

// cache holds the db.
type cache struct {
	stopped
	db *db
}

func (c *cache) Init(servicemesh.Mesh)      {}
func (c *cache) Lookup(key string) string   { return key }
func (c *cache) DependenciesResolved() bool { return c.db != nil }
func (c *cache) ResolveDependencies(services []servicemesh.Service) {
	c.db, _ = servicemesh.Find[*db](services)
}

// api holds the cache, through an interface, and the config.
type api struct {
	stopped
	cache Cache
	cfg   *config
}

func (a *api) Init(servicemesh.Mesh)      {}
func (a *api) DependenciesResolved() bool { return a.cache != nil && a.cfg != nil }
func (a *api) ResolveDependencies(services []servicemesh.Service) {
	a.cache, _ = servicemesh.Find[Cache](services)
	a.cfg, _ = servicemesh.Find[*config](services)
}

// admin keeps the Mesh it is given in Init, to list the services on demand.
type admin struct {
	stopped
	mesh servicemesh.Mesh
}

func (a *admin) Init(mesh servicemesh.Mesh) { a.mesh = mesh }

func main() {
	dot := flag.Bool("dot", false, "print Graphviz DOT instead of a Mermaid flowchart")
	flag.Parse()

	app := servicemesh.New("graph example")
	app.SetLogDestination(os.Stderr)

	// Dependents first: each waits, in its resolver, for what it holds.
	wgs := []interface{ Wait() }{
		app.Add(&api{stopped: stopped{"api"}}),
		app.Add(&cache{stopped: stopped{"cache"}}),
		app.Add(&db{stopped: stopped{"db"}}),
		app.Add(&config{stopped: stopped{"config"}}),
	}
	for _, wg := range wgs {
		wg.Wait()
	}
	// admin is added once the others run, so its Init begins after theirs
	// and it depends on every one of them.
	app.Add(&admin{stopped: stopped{"admin"}}).Wait()

	g := servicemesh.Graph(app)
	if *dot {
		fmt.Print(g.DOT())
	} else {
		fmt.Print(g.Mermaid())
	}

	// The same edges in words.
	for _, e := range g.Edges {
		how := "holds"
		if e.Mesh {
			how = "holds the mesh, so depends on"
		}
		fmt.Fprintf(os.Stderr, "edge: %s %s %s\n", g.Nodes[e.From].Name, how, g.Nodes[e.To].Name)
	}

	// A service stops only after every service that depends on it.
	app.Shutdown().Wait()
	fmt.Fprintln(os.Stderr, "main: done")
}

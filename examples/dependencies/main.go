// Command dependencies shows services finding each other through
// servicemesh.HasDependencies, by the interfaces they need rather than by
// concrete type.
//
// Three services are added in an order that does not match their needs:
//
//   - report needs a UserDirectory and an OrderBook, and waits until both
//     are ready before its Init runs;
//   - users (a UserDirectory) needs an OrderBook, and
//   - orders (an OrderBook) needs a UserDirectory: a cycle.
//
// The cycle resolves because the mesh hands resolvers every service it
// holds, including those not yet initialized. A service in a cycle must
// therefore not call its dependencies from its own Init: they may not be
// initialized yet. report, which does use them in Init, waits for their
// Ready (servicemesh.HasReadiness) as part of DependenciesResolved.
//
// The program ends by itself. Run it from the repository root with:
//
//	go run ./examples/dependencies
package main

import (
	"fmt"
	"sort"
	"sync"
	"sync/atomic"

	"github.com/gravestench/servicemesh"
)

// UserDirectory knows the users of the shop.
type UserDirectory interface {
	servicemesh.HasReadiness
	UserName(id int) (string, bool)
	// Describe summarizes a user, orders included.
	Describe(id int) string
}

// OrderBook records what users ordered.
type OrderBook interface {
	servicemesh.HasReadiness
	Place(userID int, item string) error
	OrdersOf(userID int) []string
}

// readiness is embedded by services to report that their Init has run.
type readiness struct{ ready atomic.Bool }

func (r *readiness) Ready() bool { return r.ready.Load() }

// users is the UserDirectory. It needs an OrderBook to describe users.
type users struct {
	readiness
	names  map[int]string
	orders OrderBook
}

func (u *users) Name() string { return "users" }

func (u *users) DependenciesResolved() bool { return u.orders != nil }

func (u *users) ResolveDependencies(services []servicemesh.Service) {
	for _, s := range services {
		if ob, ok := s.(OrderBook); ok {
			u.orders = ob
			fmt.Printf("users: found an OrderBook (%s)\n", s.Name())
			return
		}
	}
}

func (u *users) Init(servicemesh.Mesh) {
	u.names = map[int]string{1: "ada", 2: "grace"}
	u.ready.Store(true)
}

func (u *users) UserName(id int) (string, bool) {
	name, ok := u.names[id]
	return name, ok
}

func (u *users) Describe(id int) string {
	name, ok := u.UserName(id)
	if !ok {
		return fmt.Sprintf("user %d does not exist", id)
	}
	return fmt.Sprintf("%s ordered %v", name, u.orders.OrdersOf(id))
}

// orders is the OrderBook. It needs a UserDirectory to check who orders.
type orders struct {
	readiness
	users UserDirectory

	mu     sync.Mutex
	byUser map[int][]string
}

func (o *orders) Name() string { return "orders" }

func (o *orders) DependenciesResolved() bool { return o.users != nil }

func (o *orders) ResolveDependencies(services []servicemesh.Service) {
	for _, s := range services {
		if ud, ok := s.(UserDirectory); ok {
			o.users = ud
			fmt.Printf("orders: found a UserDirectory (%s)\n", s.Name())
			return
		}
	}
}

func (o *orders) Init(servicemesh.Mesh) {
	o.byUser = make(map[int][]string)
	o.ready.Store(true)
}

func (o *orders) Place(userID int, item string) error {
	if _, ok := o.users.UserName(userID); !ok {
		return fmt.Errorf("no user with id %d", userID)
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	o.byUser[userID] = append(o.byUser[userID], item)
	return nil
}

func (o *orders) OrdersOf(userID int) []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	items := append([]string(nil), o.byUser[userID]...)
	sort.Strings(items)
	return items
}

// report uses both services once they are ready, then ends the program.
type report struct {
	users  UserDirectory
	orders OrderBook
}

func (r *report) Name() string { return "report" }

func (r *report) ResolveDependencies(services []servicemesh.Service) {
	for _, s := range services {
		if ud, ok := s.(UserDirectory); ok {
			r.users = ud
		}
		if ob, ok := s.(OrderBook); ok {
			r.orders = ob
		}
	}
}

// DependenciesResolved holds Init back until both dependencies have been
// found and have finished their own Init.
func (r *report) DependenciesResolved() bool {
	return r.users != nil && r.orders != nil && r.users.Ready() && r.orders.Ready()
}

func (r *report) Init(mesh servicemesh.Mesh) {
	defer mesh.Shutdown() // this demo is over once the report is printed

	for _, o := range []struct {
		user int
		item string
	}{{1, "pen"}, {1, "book"}, {2, "compiler"}, {3, "ghost"}} {
		if err := r.orders.Place(o.user, o.item); err != nil {
			fmt.Printf("report: cannot order %s: %v\n", o.item, err)
		}
	}
	for _, id := range []int{1, 2} {
		fmt.Printf("report: %s\n", r.users.Describe(id))
	}
}

func main() {
	mesh := servicemesh.New("dependencies example")

	// The order of Add does not matter: the report comes first although it
	// needs the other two.
	mesh.Add(&report{})
	mesh.Add(&users{})
	mesh.Add(&orders{})

	mesh.Run()
	fmt.Println("main: done")
}

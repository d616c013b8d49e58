package graph

import (
	"reflect"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
)

// service stands for the mesh's Service: an interface a holder keeps.
type service interface{ Name() string }

// link is a service that holds others through pointer fields.
type link struct {
	name string
	next *link
}

func (l *link) Name() string { return l.name }

// outsider holds nothing a service could be: no pointer-shaped word (a
// string's data pointer is not one).
type outsider struct {
	name   string
	checks atomic.Int64
}

func (o *outsider) Name() string { return o.name }

func TestHeldAddressesSeesPointersInterfacesAndNestedStructs(t *testing.T) {
	x, y, z := &link{name: "x"}, &link{name: "y"}, &link{name: "z"}
	type inner struct{ found service }
	type holder struct {
		service
		dep    *link
		any    service
		skip   int
		nilPtr *link
		nilAny service
		inner
		nested struct{ also *link }
	}
	h := &holder{dep: x, any: y, inner: inner{found: z}, skip: 1, nilPtr: nil, nilAny: nil}
	h.nested.also = x
	got := HeldAddresses(h)
	assert.ElementsMatch(t, []uintptr{AddressOf(x), AddressOf(y), AddressOf(z), AddressOf(x)}, got)
	o := &outsider{name: "o"}
	o.checks.Add(1)
	assert.Nil(t, HeldAddresses(o))
}

// HeldAddresses looks MaxFieldDepth levels into structs held by value, and
// not into what is not a struct held by value (a pointer's target, a slice,
// a map, an array); a value that is not a pointer to a struct holds nothing.
func TestHeldAddressesDepthAndWhatItDoesNotLookInto(t *testing.T) {
	x, y := &link{name: "x"}, &link{name: "y"}
	type l3 struct{ p *link } // level 3: seen
	type l4 struct{ p *link } // level 4: not seen
	type l3deep struct {
		p    *link
		next l4
	}
	type l2 struct{ in l3deep }
	type holder struct {
		two   l2
		ptrTo *struct{ p *link } // the pointer is a word; its target is not read
		list  []*link
		byKey map[string]*link
		arr   [1]*link
		three struct{ in l3 }
	}
	h := &holder{
		two:   l2{in: l3deep{p: x, next: l4{p: y}}},
		ptrTo: &struct{ p *link }{p: y},
		list:  []*link{y},
		byKey: map[string]*link{"y": y},
		arr:   [1]*link{y},
		three: struct{ in l3 }{in: l3{p: x}},
	}
	got := HeldAddresses(h)
	assert.Contains(t, got, AddressOf(x), "a pointer 3 levels deep is seen")
	assert.NotContains(t, got, AddressOf(y), "nothing beyond 3 levels, nor inside pointers, slices, maps or arrays")
	assert.Len(t, refOffsets(reflect.TypeFor[holder]()), 3,
		"two.in.p, ptrTo and three.in.p: slices, maps and arrays are not read at all")

	assert.Nil(t, HeldAddresses(nil))
	assert.Nil(t, HeldAddresses((*link)(nil)))
	assert.Nil(t, HeldAddresses(link{next: x}), "a struct held by value is no pointer")
	n := 1
	assert.Nil(t, HeldAddresses(&n), "a pointer to something other than a struct")
	assert.Nil(t, HeldAddresses(&struct{ a, b int }{}), "a struct without pointer-shaped words")
	assert.Zero(t, AddressOf(nil))
	assert.Zero(t, AddressOf(link{}))
	assert.Equal(t, reflect.ValueOf(x).Pointer(), AddressOf(x))
}

// The offsets of a type are computed once and shared.
func TestRefOffsetsAreCachedPerType(t *testing.T) {
	ty := reflect.TypeFor[link]()
	a, b := refOffsets(ty), refOffsets(ty)
	assert.Len(t, a, 1)
	assert.Same(t, &a[0], &b[0])
}

// lockedHolder guards a field the mesh looks at with a lock of its own.
type lockedHolder struct {
	service
	mu  sync.Mutex
	dep *link
	any service
}

// Looking at what a resolver holds must not be reported by the race
// detector when the service writes those fields under its own lock, which
// the mesh cannot take (the look is a hint; see readWords).
func TestHeldAddressesDoesNotRaceWithTheServicesOwnLocking(t *testing.T) {
	h := &lockedHolder{}
	a, b := &link{name: "a"}, &link{name: "b"}
	stop, stopped := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(stopped)
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			h.mu.Lock()
			h.dep = []*link{a, b}[i%2]
			h.any = []service{a, b}[i%2]
			h.mu.Unlock()
		}
	}()
	seen := map[uintptr]bool{}
	for range 200_000 {
		for _, addr := range HeldAddresses(h) {
			seen[addr] = true
		}
	}
	close(stop)
	<-stopped
	for addr := range seen {
		assert.Contains(t, []uintptr{AddressOf(a), AddressOf(b)}, addr, "only whole words are read")
	}
}

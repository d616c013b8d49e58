package registry

import (
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// ent is a test entry: what the mesh's entry is to the registry.
type ent struct {
	node Node[any, *ent]
	name string
	gone bool
}

// svc is a pointer-shaped service.
type svc struct{ name string }

// empty is a service of zero size.
type empty struct{}

// funcService is a service Go cannot compare.
type funcService struct {
	fn   func()
	m    map[string]int
	n    int
	name string
}

type testRegistry = Registry[any, *ent]

// self stands for the mesh, listed first.
var self = &svc{name: "mesh"}

func newRegistry() *testRegistry {
	r := new(testRegistry)
	r.Init(self)
	return r
}

// add admits s and lists it at once, as Add does for a service without a
// logger, and returns its entry.
func add(t *testing.T, r *testRegistry, s any) *ent {
	t.Helper()
	e := &ent{}
	e.node.Init(e, s)
	listed, refused := r.Admit(&e.node, func(uint64, *ent) bool { return true })
	require.Equal(t, Admitted, refused)
	require.True(t, listed)
	return e
}

// lookup returns the entry of s, if it is in r.
func lookup(r *testRegistry, s any) (*ent, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if n := r.lookup(s); n != nil {
		return n.entry, true
	}
	return nil, false
}

// remove removes s, its retirement waiting for nothing but Told, and
// reports the entry removed.
func remove(r *testRegistry, s any) (*ent, bool) {
	return r.Remove(s, func(e *ent) (bool, bool) {
		e.gone = true
		return false, false
	})
}

func TestResolversShareOneSnapshotWithoutAllocating(t *testing.T) {
	r := newRegistry()
	for range 10 {
		add(t, r, &svc{name: "x"})
	}
	a, b := r.Snapshot(), r.Snapshot()
	require.Len(t, a, 11)
	assert.Same(t, &a[0], &b[0], "resolvers share the snapshot")
	assert.Equal(t, len(a), cap(a), "appending to the snapshot cannot write into the registry's array")
	assert.NotSame(t, &a[0], &r.Services()[0], "Services returns a copy")
	assert.Zero(t, testing.AllocsPerRun(100, func() { _ = r.Snapshot() }))
}

func TestServicesInTheOrderAddedTheMeshFirst(t *testing.T) {
	r := newRegistry()
	var all []*svc
	for i := range 300 {
		s := &svc{name: string(rune('a' + i%26))}
		all = append(all, s)
		add(t, r, s)
	}
	// Remove two of every three, past the point where holes are squeezed
	// out: the order stays the order added.
	want := []any{self}
	for i, s := range all {
		if i%3 == 0 {
			want = append(want, s)
			continue
		}
		_, ok := remove(r, s)
		require.True(t, ok)
	}
	assert.Equal(t, want, r.Services())
	assert.Equal(t, want, r.Snapshot())
	var names []*ent
	for e := range r.Entries() {
		names = append(names, e)
	}
	require.Len(t, names, len(want)-1, "Entries leaves the mesh out")
	for i, e := range names {
		assert.Same(t, want[i+1], e.node.svc)
		assert.True(t, e.node.Listed())
	}
	r.Do(func(l Locked[any, *ent]) {
		assert.Equal(t, len(want)-1, l.Len())
		assert.True(t, l.AllListed())
	})
}

func TestSnapshotAfterRemoveAndHide(t *testing.T) {
	r := newRegistry()
	a, b, c := &svc{name: "a"}, &svc{name: "b"}, &svc{name: "c"}
	add(t, r, a)
	eb := add(t, r, b)
	add(t, r, c)
	before := r.Snapshot()
	r.Hide(&eb.node)
	assert.Equal(t, []any{self, a, c}, r.Snapshot(), "a hidden service is not handed to resolvers")
	assert.Equal(t, []any{self, a, b, c}, r.Services(), "but Services lists it")
	assert.Equal(t, []any{self, a, b, c}, before, "a snapshot handed out never changes")
	r.Hide(&eb.node) // twice: nothing
	_, ok := remove(r, a)
	require.True(t, ok)
	assert.Equal(t, []any{self, c}, r.Snapshot())
	d := &svc{name: "d"}
	add(t, r, d)
	assert.Equal(t, []any{self, c, d}, r.Snapshot())
}

func TestAdmitRefusesDuplicatesTheMeshAndAfterShutdown(t *testing.T) {
	r := newRegistry()
	a := &svc{name: "a"}
	add(t, r, a)
	for _, s := range []any{a, self} {
		e := &ent{}
		e.node.Init(e, s)
		called := false
		_, refused := r.Admit(&e.node, func(uint64, *ent) bool { called = true; return true })
		assert.Equal(t, Duplicate, refused)
		assert.False(t, called)
	}
	// Not comparable: found by identity.
	fn := func() {}
	f := funcService{fn: fn, m: map[string]int{}, name: "f"}
	add(t, r, f)
	e := &ent{}
	e.node.Init(e, f)
	_, refused := r.Admit(&e.node, func(uint64, *ent) bool { return true })
	assert.Equal(t, Duplicate, refused)
	// A value holding a NaN is unequal to itself, yet the same service.
	type nan struct{ f float64 }
	n := nan{math.NaN()}
	add(t, r, n)
	e = &ent{}
	e.node.Init(e, n)
	_, refused = r.Admit(&e.node, func(uint64, *ent) bool { return true })
	assert.Equal(t, Duplicate, refused)
	got, ok := lookup(r, n)
	require.True(t, ok)
	assert.True(t, sameService(n, got.node.svc))

	begun := 0
	assert.True(t, r.BeginShutdown(func() { begun++ }))
	assert.False(t, r.BeginShutdown(func() { begun++ }))
	assert.Equal(t, 1, begun)
	e = &ent{}
	e.node.Init(e, &svc{name: "late"})
	_, refused = r.Admit(&e.node, func(uint64, *ent) bool { return true })
	assert.Equal(t, ShuttingDown, refused)
}

func TestZeroSizedServicesAreNeverDuplicates(t *testing.T) {
	r := newRegistry()
	first := add(t, r, empty{})
	second := add(t, r, empty{})
	third := add(t, r, &empty{})
	assert.Equal(t, []any{self, empty{}, empty{}, &empty{}}, r.Services())
	got, ok := lookup(r, empty{})
	require.True(t, ok)
	assert.Same(t, first, got, "the earliest added of equal ones")
	e, ok := remove(r, empty{})
	require.True(t, ok)
	assert.Same(t, first, e, "Remove takes the earliest added")
	e, ok = remove(r, empty{})
	require.True(t, ok)
	assert.Same(t, second, e)
	_, ok = remove(r, empty{})
	assert.False(t, ok)
	r.Do(func(l Locked[any, *ent]) {
		_, ok := l.At(AddressOf(third.node.svc))
		assert.False(t, ok, "zero-size services are never found by address")
	})
	// A zero-size service added again never waits for a removed one.
	r.Told(&first.node)
	again := &ent{}
	again.node.Init(again, empty{})
	_, refused := r.Admit(&again.node, func(_ uint64, prev *ent) bool {
		assert.Nil(t, prev)
		return true
	})
	assert.Equal(t, Admitted, refused)
}

func TestAdmitNumbersAndPublishLater(t *testing.T) {
	r := newRegistry()
	a := add(t, r, &svc{name: "a"})
	_ = a
	e := &ent{}
	s := &svc{name: "b"}
	e.node.Init(e, s)
	var seq uint64
	listed, refused := r.Admit(&e.node, func(n uint64, prev *ent) bool {
		seq = n
		assert.Nil(t, prev)
		return false // published later, as a service with a logger
	})
	assert.Equal(t, Admitted, refused)
	assert.False(t, listed)
	assert.Equal(t, uint64(2), seq)
	_, ok := lookup(r, s)
	assert.True(t, ok, "admitted: found")
	assert.NotContains(t, r.Services(), any(s), "not listed yet")
	r.Do(func(l Locked[any, *ent]) { assert.False(t, l.AllListed()) })
	assert.True(t, r.Publish(&e.node))
	assert.False(t, r.Publish(&e.node), "listed once")
	assert.Contains(t, r.Snapshot(), any(s))
	r.Do(func(l Locked[any, *ent]) { assert.True(t, l.AllListed()) })

	// Removed before it was published: never listed.
	late := &ent{}
	ls := &svc{name: "late"}
	late.node.Init(late, ls)
	r.Admit(&late.node, func(uint64, *ent) bool { return false })
	_, ok = remove(r, ls)
	require.True(t, ok)
	assert.False(t, r.Publish(&late.node))
	assert.NotContains(t, r.Services(), any(ls))
}

func TestHeldFindsEntriesByAddress(t *testing.T) {
	r := newRegistry()
	a, b := &svc{name: "a"}, &svc{name: "b"}
	ea := add(t, r, a)
	eb := add(t, r, b)
	held := r.Held([]uintptr{AddressOf(b), AddressOf(a), AddressOf(b), 12345}, ea)
	assert.Equal(t, []*ent{eb}, held, "each once, self left out")
	c := &svc{name: "c"}
	ec := add(t, r, c) // after the index was built: kept by Admit
	assert.Equal(t, []*ent{ec}, r.Held([]uintptr{AddressOf(c)}, nil))
	remove(r, c)
	assert.Empty(t, r.Held([]uintptr{AddressOf(c)}, nil), "and by Remove")
	assert.Zero(t, AddressOf(empty{}))
}

func TestSameServiceComparesNonComparableValuesByIdentity(t *testing.T) {
	fn := func() {}
	m := map[string]int{}
	a := funcService{fn: fn, m: m, n: 1, name: "a"}
	cases := []struct {
		name string
		b    funcService
		same bool
	}{
		{"the same value", a, true},
		{"another func", funcService{fn: func() {}, m: m, n: 1, name: "a"}, false},
		{"another map", funcService{fn: fn, m: map[string]int{}, n: 1, name: "a"}, false},
		{"another number", funcService{fn: fn, m: m, n: 2, name: "a"}, false},
		{"another name", funcService{fn: fn, m: m, n: 1, name: "b"}, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			assert.Equal(t, c.same, sameService(a, c.b))
		})
	}
	assert.False(t, sameService(a, &svc{}))
}

func TestIsNil(t *testing.T) {
	var p *svc
	var f func()
	var m map[int]int
	for _, v := range []any{nil, p, f, m, []int(nil), (chan int)(nil)} {
		assert.True(t, IsNil(v), "%T", v)
	}
	for _, v := range []any{&svc{}, empty{}, 0, funcService{}} {
		assert.False(t, IsNil(v), "%T", v)
	}
}

func TestAppendDoublingDoubles(t *testing.T) {
	var s []int
	for i := range 1000 {
		s = AppendDoubling(s, i)
		c := cap(s)
		assert.True(t, c == 8 || c&(c-1) == 0, "capacity %d", c)
	}
	assert.Len(t, s, 1000)
	assert.Equal(t, 999, s[999])
}

// BenchmarkRemove times Remove, and the Add that refills the registry, in a
// registry of 100,000 services: constant, amortized, whatever the size.
func BenchmarkRemove(b *testing.B) {
	const n = 100_000
	r := newRegistry()
	live := make([]*svc, n)
	admit := func(s *svc) {
		e := &ent{}
		e.node.Init(e, s)
		r.Admit(&e.node, func(uint64, *ent) bool { return true })
	}
	for i := range live {
		live[i] = &svc{}
		admit(live[i])
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		k := (i * 7919) % n
		e, _ := remove(r, live[k])
		r.Told(&e.node)
		live[k] = &svc{}
		admit(live[k])
	}
}

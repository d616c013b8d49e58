package registry

import (
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

type testStarts = Starts[any, *ent]

func begin(s *testStarts, name string) *ent {
	e := &ent{name: name}
	e.node.Init(e, &svc{name: name})
	if !s.Begin(&e.node, func() bool { return true }) {
		return nil
	}
	return e
}

func names(es []*ent) []string {
	var out []string
	for _, e := range es {
		out = append(out, e.name)
	}
	return out
}

func TestStartsOrderNewestInitFirst(t *testing.T) {
	var s testStarts
	a, b, c := begin(&s, "a"), begin(&s, "b"), begin(&s, "c")
	assert.Equal(t, []uint64{1, 2, 3}, []uint64{a.node.InitSeq(), b.node.InitSeq(), c.node.InitSeq()})
	assert.Equal(t, int64(3), s.Running())
	assert.False(t, s.Returned())
	assert.False(t, s.Returned())
	assert.True(t, s.Returned(), "none running")
	b.gone = true
	assert.Equal(t, []string{"c", "a"}, names(s.Order(func(e *ent) bool { return !e.gone })))
	var all []string
	for e := range s.All() {
		all = append(all, e.name)
	}
	assert.Equal(t, []string{"c", "b", "a"}, all)

	e := &ent{}
	e.node.Init(e, &svc{})
	assert.False(t, s.Begin(&e.node, func() bool { return false }))
	assert.Zero(t, e.node.InitSeq(), "refused: not numbered")
	assert.Equal(t, int64(3), s.Len())
}

func TestStartsDropRemovedEntries(t *testing.T) {
	var s testStarts
	keep := begin(&s, "kept")
	for range 1000 {
		e := begin(&s, "transient")
		e.gone = true
		s.Removed(func(e *ent) bool { return e.gone })
	}
	assert.Less(t, s.Len(), int64(200), "removed entries are dropped")
	// Sparse now: ordered by sorting; and after compactions that put the
	// older on top of the newer.
	late := begin(&s, "late")
	for range 64 {
		s.Removed(func(e *ent) bool { return e.gone })
	}
	assert.Equal(t, []*ent{late, keep}, s.Order(func(e *ent) bool { return !e.gone }))
}

func TestSealWaitsForABeginUnderWay(t *testing.T) {
	var s testStarts
	stopping := false
	var mu sync.Mutex
	inMay, release := make(chan struct{}), make(chan struct{})
	var began *ent
	var wg sync.WaitGroup
	wg.Go(func() {
		e := &ent{name: "racing"}
		e.node.Init(e, &svc{})
		if s.Begin(&e.node, func() bool {
			close(inMay)
			<-release
			mu.Lock()
			defer mu.Unlock()
			return !stopping
		}) {
			began = e
		}
	})
	<-inMay
	mu.Lock()
	stopping = true
	mu.Unlock()
	sealed := make(chan struct{})
	go func() {
		s.Seal()
		close(sealed)
	}()
	select {
	case <-sealed:
		t.Fatal("Seal returned while a Begin was under way")
	case <-time.After(20 * time.Millisecond):
	}
	close(release)
	<-sealed
	wg.Wait()
	assert.Nil(t, began, "the shutdown's flag said no")
	late := &ent{}
	late.node.Init(late, &svc{})
	require.False(t, s.Begin(&late.node, func() bool { return !stopping }))
	assert.Empty(t, slices.Collect(s.All()))
}

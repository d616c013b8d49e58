package fanout

// A fan-out in isolation: on the bus only while some listener is bound,
// listeners called in the order added and unbound by Remove, events emitted
// on the bus by hand reach them, and Deliver hands on past a stalled
// listener. The mesh-level tests (handler interfaces bound by Add and
// unbound by Remove) are in the root package's fanout_test.go.

import (
	"sync"
	"testing"
	"testing/synctest"
	"time"

	ee "github.com/gravestench/eventemitter"
	"github.com/gravestench/servicemesh/internal/timing"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// recorder is a listener that appends its name to a shared list.
func recorder(mu *sync.Mutex, got *[]string, name string) *Listener {
	return &Listener{Event: "e", Fn: func(...any) {
		mu.Lock()
		*got = append(*got, name)
		mu.Unlock()
	}}
}

// isOnBus reports whether fo's listener is on the bus.
func (fo *FanOut) isOnBus() bool {
	fo.mu.Lock()
	defer fo.mu.Unlock()
	return fo.onBus
}

func TestOnTheBusOnlyWhileBound(t *testing.T) {
	fo := New(ee.New(), "e")
	assert.Nil(t, fo.list.Load(), "no handler, nothing bound")
	assert.False(t, fo.isOnBus(), "an event nobody handles has no bus listener")

	var mu sync.Mutex
	var got []string
	a, b := recorder(&mu, &got, "a"), recorder(&mu, &got, "b")
	fo.Add(a)
	fo.Add(b)
	assert.True(t, fo.isOnBus())
	fo.Remove(a)
	assert.True(t, fo.isOnBus(), "b is still bound")
	fo.Remove(b)
	assert.False(t, fo.isOnBus(), "off the bus with the last one")
	fo.Remove(b) // not bound: ignored
	fo.Add(a)
	assert.True(t, fo.isOnBus(), "back on the bus")
}

func TestListenersAreCalledInOrderAdded(t *testing.T) {
	bus := ee.New()
	fo := New(bus, "e")
	var mu sync.Mutex
	var got []string
	ls := map[string]*Listener{}
	for _, name := range []string{"a", "b", "c", "d"} {
		ls[name] = recorder(&mu, &got, name)
		fo.Add(ls[name])
	}
	bus.Emit("e").Wait() // emitted on the bus by hand
	assert.Equal(t, []string{"a", "b", "c", "d"}, got)

	fo.Remove(ls["b"])
	got = nil
	bus.Emit("e").Wait()
	assert.Equal(t, []string{"a", "c", "d"}, got, "unbound by Remove")
	bus.Emit("other").Wait()
	assert.Equal(t, []string{"a", "c", "d"}, got, "another event reaches none")
}

func TestDeliverPassesTheArguments(t *testing.T) {
	var heard []any
	Deliver([]*Listener{{Fn: func(args ...any) { heard = args }}}, []any{"x", 1})
	assert.Equal(t, []any{"x", 1}, heard)
	require.NotPanics(t, func() { Deliver(nil, nil) })
}

// A listener that waits for what a later listener of the same event does
// holds it up for one to two timing.HandlerStall only: the later ones go on
// on another goroutine.
func TestDeliverHandsOnPastAStall(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		later := make(chan struct{})
		var after bool
		ls := []*Listener{
			{Fn: func(...any) { <-later }},
			{Fn: func(...any) { close(later) }},
			{Fn: func(...any) { after = true }},
		}
		start := time.Now()
		Deliver(ls, nil)
		took := time.Since(start)
		assert.True(t, after, "every listener was called before Deliver returned")
		assert.Greater(t, took, time.Duration(0))
		assert.LessOrEqual(t, took, 2*timing.HandlerStall, "the second listener went on after one to two stalls")
	})
}

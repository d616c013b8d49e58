package registry

import (
	"slices"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
)

// Resolvers read the snapshot without a lock while services are admitted,
// hidden and removed: every list they get stays as it was, the mesh first
// (run with -race).
func TestSnapshotReadersRaceWithChanges(t *testing.T) {
	r := newRegistry()
	stop := make(chan struct{})
	var readers sync.WaitGroup
	for range 4 {
		readers.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				s := r.Snapshot()
				was := slices.Clone(s)
				for range 3 {
					_ = r.Services()
				}
				assert.Same(t, self, s[0])
				for i := range s {
					if s[i] != was[i] {
						t.Errorf("a snapshot handed out changed at %d", i)
						return
					}
				}
			}
		})
	}
	var writers sync.WaitGroup
	for w := range 2 {
		writers.Go(func() {
			for i := range 2000 {
				s := &svc{name: "w"}
				e := &ent{}
				e.node.Init(e, s)
				r.Admit(&e.node, func(uint64, *ent) bool { return i%2 == 0 })
				if i%2 == 1 {
					r.Publish(&e.node)
				}
				if (i+w)%5 == 0 {
					r.Hide(&e.node)
				}
				if i%3 != 0 {
					old, _ := remove(r, s)
					r.Told(&old.node)
				}
			}
		})
	}
	writers.Wait()
	close(stop)
	readers.Wait()
	r.Do(func(l Locked[any, *ent]) {
		assert.Equal(t, 2*667, l.Len())
		assert.True(t, l.AllListed())
	})
}

package registry

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// closed reports whether ch is closed.
func closed(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

func TestRetirementWaitsForLifeServeAndTold(t *testing.T) {
	for _, order := range [][]string{
		{"life", "serve", "told"}, {"told", "serve", "life"}, {"serve", "told", "life"},
	} {
		t.Run(order[0]+"-"+order[1]+"-"+order[2], func(t *testing.T) {
			r := newRegistry()
			s := &svc{name: "a"}
			add(t, r, s)
			old, ok := r.Remove(s, func(*ent) (bool, bool) { return true, true })
			require.True(t, ok)
			require.NotNil(t, old.node.Told())

			// Added again while the old one retires: it gets it as prev.
			again := &ent{}
			again.node.Init(again, s)
			_, refused := r.Admit(&again.node, func(_ uint64, prev *ent) bool {
				assert.Same(t, old, prev)
				return false
			})
			require.Equal(t, Admitted, refused)

			for i, step := range order {
				assert.False(t, closed(old.node.Retired()), "retired before %s", step)
				switch step {
				case "life":
					r.LifeOver(&old.node)
					r.LifeOver(&old.node) // twice: nothing
				case "serve":
					r.ServeOver(&old.node)
				case "told":
					r.Told(&old.node)
					assert.True(t, closed(old.node.Told()))
				}
				_ = i
			}
			assert.True(t, closed(old.node.Retired()))

			// Once retired, a service added again waits for nothing.
			_, ok = r.Remove(s, func(*ent) (bool, bool) { return false, false })
			require.True(t, ok, "the second entry was admitted")
			third := &ent{}
			third.node.Init(third, s)
			r.Admit(&third.node, func(_ uint64, prev *ent) bool {
				assert.Same(t, again, prev, "the newest retiring")
				return true
			})
		})
	}
}

func TestRetirementOfNonComparableServices(t *testing.T) {
	r := newRegistry()
	f := funcService{fn: func() {}, name: "f"}
	add(t, r, f)
	old, ok := r.Remove(f, func(*ent) (bool, bool) { return false, false })
	require.True(t, ok)
	again := &ent{}
	again.node.Init(again, f)
	r.Admit(&again.node, func(_ uint64, prev *ent) bool {
		assert.Same(t, old, prev, "found by identity")
		return true
	})
	r.Told(&old.node)
	assert.True(t, closed(old.node.Retired()))
	r.Do(func(Locked[any, *ent]) {
		assert.Empty(t, r.retiringOdd, "dropped once retired")
		assert.Empty(t, r.retiring)
	})
}

package servicemesh

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// phased waits for a flag shared with others and records when it is polled.
type phased struct {
	name     string
	ready    *atomic.Bool
	mu       sync.Mutex
	polls    []time.Time // when ResolveDependencies was called
	initedAt atomic.Int64
}

func (p *phased) Name() string               { return p.name }
func (p *phased) Init(Mesh)                  { p.initedAt.Store(time.Now().UnixNano()) }
func (p *phased) DependenciesResolved() bool { return p.ready.Load() }
func (p *phased) ResolveDependencies([]Service) {
	p.mu.Lock()
	p.polls = append(p.polls, time.Now())
	p.mu.Unlock()
}

func (p *phased) pollsSince(t time.Time) []time.Time {
	p.mu.Lock()
	defer p.mu.Unlock()
	var after []time.Time
	for _, at := range p.polls {
		if !at.Before(t) {
			after = append(after, at)
		}
	}
	return after
}

// Beyond pollSlotSize waiting services, polls are spread over phases of the
// grid, each service still polled every maxPoll, and a dependency that
// appears for all of them at once is still noticed by each within maxPoll.
func TestPollsSpreadOverPhases(t *testing.T) {
	for _, n := range []int{pollSlotSize / 2, 4 * pollSlotSize} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				m := quietMesh(t)
				m.SetDependencyResolutionTimeout(0)
				SetDependencyWarningDelay(m, 0)
				ready := new(atomic.Bool)
				svcs := make([]*phased, n)
				wgs := make([]*sync.WaitGroup, n)
				for i := range svcs {
					svcs[i] = &phased{name: fmt.Sprint("waiter ", i), ready: ready}
					wgs[i] = m.Add(svcs[i])
				}
				time.Sleep(time.Second) // fake time: every poll at its ceiling
				synctest.Wait()
				from := time.Now()
				time.Sleep(10 * maxPoll)
				synctest.Wait()

				times := map[time.Time]int{}
				for _, s := range svcs {
					polls := s.pollsSince(from)
					require.NotEmpty(t, polls, "%s was not polled", s.name)
					for i := 1; i < len(polls); i++ {
						require.Equal(t, maxPoll, polls[i].Sub(polls[i-1]), "%s: polls %d and %d", s.name, i-1, i)
					}
					times[polls[0]]++
				}
				slots := max(1, min(n/pollSlotSize, maxPollSlots))
				assert.Len(t, times, slots, "distinct times of a poll within one ceiling")
				for at, k := range times {
					assert.LessOrEqual(t, k, 2*pollSlotSize, "services polled at %v", at.Sub(from))
				}

				set := time.Now()
				ready.Store(true)
				for _, wg := range wgs {
					wg.Wait()
				}
				for _, s := range svcs {
					assert.LessOrEqual(t, time.Duration(s.initedAt.Load()-set.UnixNano()), maxPoll, "%s noticed late", s.name)
				}
				m.Shutdown().Wait()
			})
		})
	}
}

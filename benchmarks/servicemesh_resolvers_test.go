package benchmarks

import (
	"testing"

	"github.com/gravestench/servicemesh"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestResolvers checks, without a mesh, that each resolver of the
// scenarios keeps the service it needs and no other, and reports itself
// resolved only once that service is found and, where the scenario says
// so, initialized.
func TestResolvers(t *testing.T) {
	links := make([]*meshLink, 4)
	o := newOrder(len(links))
	for i := range links {
		dep := i + 1
		if dep == len(links) {
			dep = -1
		}
		links[i] = &meshLink{name: serviceNames(len(links))[i], idx: i, dep: dep, order: o}
	}
	db := &meshDB{}
	user := &meshUser{name: "u", order: newOrder(1)}
	stops, other := newStopOrder(3), newStopOrder(3)
	holders := []*meshHolder{{idx: 0, stops: stops}, {idx: 1, stops: stops}, {idx: 2, stops: stops}}
	stranger := &meshHolder{idx: 1, stops: other}
	all := []servicemesh.Service{links[0], links[1], links[2], links[3], db, user, stranger, holders[0], holders[1], holders[2]}

	t.Run("chain link", func(t *testing.T) {
		assert.True(t, links[3].DependenciesResolved(), "the end of the chain needs nothing")
		l := links[1]
		l.ResolveDependencies(all[:1])
		assert.False(t, l.DependenciesResolved(), "resolved without the link it needs in the list")
		l.ResolveDependencies(all)
		require.Same(t, links[2], l.next, "link 1 must keep link 2")
		assert.False(t, l.DependenciesResolved(), "resolved before link 2's Init")
		links[2].Init(nil)
		assert.True(t, l.DependenciesResolved())
	})
	t.Run("fan-in user", func(t *testing.T) {
		user.ResolveDependencies(all[:4])
		assert.False(t, user.DependenciesResolved(), "resolved without the db in the list")
		user.ResolveDependencies(all)
		require.Same(t, db, user.db)
		assert.False(t, user.DependenciesResolved(), "resolved before the db's Init")
		db.Init(nil)
		assert.True(t, user.DependenciesResolved())
	})
	t.Run("S5 holder", func(t *testing.T) {
		assert.True(t, holders[0].DependenciesResolved(), "the first of the chain holds nothing")
		h := holders[2]
		h.ResolveDependencies(all[:7])
		assert.False(t, h.DependenciesResolved(), "resolved with only another chain's service in the list")
		assert.Nil(t, h.prev)
		h.ResolveDependencies(all)
		assert.Same(t, holders[1], h.prev, "holder 2 must keep holder 1 of its own chain")
		assert.True(t, h.DependenciesResolved())
	})
}

package sched

import (
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestNeedsIndexesWaitersByKey(t *testing.T) {
	var x Needs[string, int]
	assert.Zero(t, x.Len())
	assert.Empty(t, x.Waiters("store"))
	x.Add("store", 1)
	x.Add("store", 2)
	x.Add("store", 2) // once
	x.Add("cache", 2)
	assert.Equal(t, 3, x.Len())
	got := x.Waiters("store")
	slices.Sort(got)
	assert.Equal(t, []int{1, 2}, got)
	var keys []string
	x.Keys(func(k string) bool { keys = append(keys, k); return true })
	slices.Sort(keys)
	assert.Equal(t, []string{"cache", "store"}, keys)
	n := 0
	x.Keys(func(string) bool { n++; return false })
	assert.Equal(t, 1, n, "Keys stops when told")
	x.Remove("store", 1)
	x.Remove("store", 1) // unknown: nothing
	x.Remove("nowhere", 1)
	assert.Equal(t, []int{2}, x.Waiters("store"))
	x.Remove("store", 2)
	x.Remove("cache", 2)
	assert.Zero(t, x.Len())
	keys = nil
	x.Keys(func(k string) bool { keys = append(keys, k); return true })
	assert.Empty(t, keys, "an empty key is dropped")
}

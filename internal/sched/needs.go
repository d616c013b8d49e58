package sched

// Needs indexes waiters by what they wait for — the types their declared
// requirements name — so that a waiter is looked at again only when a
// service of one of those types changes, never polled. It is a record per
// waiter, not a goroutine. Needs is not safe for concurrent use: its owner
// (the root's requirements.go) guards it with a mutex of its own.
type Needs[K comparable, W comparable] struct {
	by map[K]map[W]struct{}
	n  int // waiters, each counted once per key it waits on
}

// Add records that w waits on key k.
func (x *Needs[K, W]) Add(k K, w W) {
	if x.by == nil {
		x.by = make(map[K]map[W]struct{})
	}
	ws := x.by[k]
	if ws == nil {
		ws = make(map[W]struct{})
		x.by[k] = ws
	}
	if _, ok := ws[w]; !ok {
		ws[w] = struct{}{}
		x.n++
	}
}

// Remove forgets that w waits on k.
func (x *Needs[K, W]) Remove(k K, w W) {
	ws := x.by[k]
	if _, ok := ws[w]; !ok {
		return
	}
	delete(ws, w)
	x.n--
	if len(ws) == 0 {
		delete(x.by, k)
	}
}

// Len returns how many (key, waiter) pairs are recorded.
func (x *Needs[K, W]) Len() int { return x.n }

// Keys calls fn with every key some waiter waits on, until fn returns false.
func (x *Needs[K, W]) Keys(fn func(k K) bool) {
	for k := range x.by {
		if !fn(k) {
			return
		}
	}
}

// Waiters returns the waiters on k, in no particular order, as a new slice
// that the caller may keep while it changes the index.
func (x *Needs[K, W]) Waiters(k K) []W {
	ws := x.by[k]
	out := make([]W, 0, len(ws))
	for w := range ws {
		out = append(out, w)
	}
	return out
}

package registry

import "slices"

// The retire handshake. A removed service is retiring until its lifecycle
// has ended (LifeOver), no call of its Serve runs (ServeOver) and its
// removal has been told (Told); then its Retired channel closes. A service
// added again meanwhile gets the retiring entry as its previous one (Admit)
// and starts its new lifecycle only after both channels closed, so that its
// methods never run concurrently with themselves and it never hears of its
// own removal.
//
// LifeOver and ServeOver are called by the goroutine that has just recorded
// that what they wait for is over, after it read that the service was
// removed; Remove marks the service removed and then, under the lock, reads
// those records for the awaits it returns. So either Remove saw the record,
// or the caller saw the removal and calls in: no wait is missed.

// retire lists n, just removed, as retiring until its lifecycle has ended
// (if awaitLife), no call of its Serve runs (if awaitServe) and its removal
// has been told. The caller holds mu.
func (r *Registry[S, E]) retire(n *Node[S, E], awaitLife, awaitServe bool) {
	n.told, n.retired = make(chan struct{}), make(chan struct{})
	n.awaitLife, n.awaitTold, n.awaitServe = awaitLife, true, awaitServe
	switch {
	case n.zeroSize: // never looked for
	case n.comparable:
		r.retiring[n.svc] = n // the newest; an older one is waited for by it
	default:
		r.retiringOdd = append(r.retiringOdd, n)
	}
}

// stillRetiring returns the newest removed node of svc that is still
// retiring, or nil. Services of zero size are never looked for. The caller
// holds mu.
func (r *Registry[S, E]) stillRetiring(svc S, comparable bool) *Node[S, E] {
	if comparable {
		return r.retiring[svc]
	}
	for i := len(r.retiringOdd) - 1; i >= 0; i-- {
		if x := r.retiringOdd[i]; sameService(x.svc, svc) {
			return x
		}
	}
	return nil
}

// LifeOver notes that the lifecycle of n, which was removed, has ended
// (the caller recorded it, then saw the removal), and ends n's retirement if
// that was the last wait.
func (r *Registry[S, E]) LifeOver(n *Node[S, E]) { r.stopAwaiting(n, &n.awaitLife) }

// ServeOver notes that no call of the Serve of n, which was removed, runs
// any more (the caller recorded it, then saw the removal), and ends n's
// retirement if that was the last wait.
func (r *Registry[S, E]) ServeOver(n *Node[S, E]) { r.stopAwaiting(n, &n.awaitServe) }

// Told notes that the removal of n has been told: it closes n's Told
// channel, and ends n's retirement if that was the last wait. It is called
// once per Remove that returned n.
func (r *Registry[S, E]) Told(n *Node[S, E]) {
	r.mu.Lock()
	defer r.mu.Unlock()
	n.awaitTold = false
	close(n.told)
	r.retireIfDone(n)
}

// stopAwaiting clears await, one of the waits of n's retirement, unless it
// was cleared already, and retires n if it was the last.
func (r *Registry[S, E]) stopAwaiting(n *Node[S, E], await *bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if *await {
		*await = false
		r.retireIfDone(n)
	}
}

// retireIfDone ends n's retirement once none of its waits is left. The
// caller holds mu.
func (r *Registry[S, E]) retireIfDone(n *Node[S, E]) {
	if n.awaitLife || n.awaitTold || n.awaitServe {
		return
	}
	switch {
	case n.zeroSize:
	case n.comparable:
		if r.retiring[n.svc] == n {
			delete(r.retiring, n.svc)
		}
	default:
		if i := slices.Index(r.retiringOdd, n); i >= 0 {
			r.retiringOdd = slices.Delete(r.retiringOdd, i, i+1)
		}
	}
	close(n.retired)
}

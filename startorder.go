package servicemesh

import "time"

// Inits of services without dependencies begin in the order the services
// were added: programs written for the original library rely on it (a
// configuration service added first is initialized first). Each such entry
// waits, just before its Init, until the Init of the one added before it
// has returned, or has run for initOverlap: a service may run its loop
// inside Init, and such an Init must not hold the others back for longer.
//
// What may still let a later Init begin first, or delay it:
//   - an earlier Init that runs for longer than initOverlap: the later one
//     begins initOverlap after the earlier one began, while it still runs
//     (an Init that returns quickly is over before the next one begins);
//   - a service added again while its previous lifecycle still runs: it
//     waits for that lifecycle, which may never end, so nobody waits for it;
//   - an earlier service whose lifecycle is stuck inside SetLogger or the
//     handlers of its own events for turnPatience without progress: a
//     handler that waits for a service added after it (Add(...).Wait())
//     would otherwise wait for itself. The later Init then goes ahead, and
//     the mesh says so at level Debug. A handler that merely takes a while
//     delays the later Inits for as long;
//   - shutdown: once it has begun, no Init begins at all.
//
// Services with dependencies begin their Init whenever their dependencies
// are resolved, and neither wait nor are waited for.

const (
	// initOverlap is how long a later Init waits for an earlier one that
	// has begun and not returned.
	initOverlap = 2 * time.Millisecond
	// turnPatience is how long an entry waits for an earlier one that makes
	// no progress inside its handlers or SetLogger before it goes ahead.
	turnPatience = 50 * time.Millisecond
)

// queueInOrder links e, if it has no dependencies, behind the newest such
// entry. Each entry drops its link when it takes its turn, so the mesh holds
// on to one finished entry at most. The caller holds mu.
func (m *mesh) queueInOrder(e *entry) {
	if e.resolution != nil {
		return
	}
	e.began = make(chan struct{})
	e.turn = make(chan struct{})
	e.after = m.lastInOrder
	m.lastInOrder = e
}

// markBegan notes that e's Init begins now. Called by e's lifecycle
// goroutine only.
func (m *mesh) markBegan(e *entry) {
	if e.began == nil || e.beganClosed {
		return
	}
	e.initAt = time.Now()
	e.beganClosed = true
	close(e.began)
}

// passTurn lets the entry added after e begin its Init: e's Init returned,
// or e's lifecycle will not reach Init in order. Called by e's lifecycle
// goroutine only.
func (m *mesh) passTurn(e *entry) {
	if e.turn == nil || e.turnPassed {
		return
	}
	m.markBegan(e)
	e.turnPassed = true
	close(e.turn)
}

// awaitTurn waits until the entry added before e has returned from its
// Init, or has been in it for initOverlap, or will not begin one, or is
// stuck in service code on its way there (see turnPatience), or until
// shutdown begins.
func (m *mesh) awaitTurn(e *entry) {
	p := e.after
	e.after = nil // hold no chain of predecessors
	if p == nil {
		return
	}
	select {
	case <-p.turn:
		return
	default:
	}
	t := time.NewTimer(turnPatience)
	defer t.Stop()
	seen := p.steps.Load()
	began := p.began
	for {
		select {
		case <-p.turn:
			return
		case <-m.down:
			return
		case <-began:
			// p.initAt was written before began was closed.
			began = nil
			t.Reset(time.Until(p.initAt.Add(initOverlap)))
		case <-t.C:
			if began == nil {
				return // p's Init has run for initOverlap
			}
			now := p.steps.Load()
			if p.inUserCode.Load() && now == seen {
				m.debug("Init begins before that of a service added earlier, which is stuck in its handlers or SetLogger",
					"subject", e.name, "earlier", p.name)
				return
			}
			seen = now
			t.Reset(turnPatience)
		}
	}
}

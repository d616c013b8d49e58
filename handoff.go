package servicemesh

// The hand-off: once a service's Init has returned and its lifecycle is
// over, the goroutine that ran it runs the next attempt of one service
// waiting on it (one whose resolver holds it, see watch in
// dependencies.go), and, when that resolves it, that service's lifecycle,
// Init included, and so on. Along a chain of dependencies each link then
// starts at the cost of a function call on one goroutine, with no wake-up
// through the scheduler and no goroutine started. The others waiting on
// the service are attempted by the scheduler at once (sched.Initialized);
// the one left to the hand-off is attempted in the broadcast if the
// lifecycle is held up (its EventServiceInitialized handlers waiting for
// something), so nothing waits on a handler.
//
// The lane (startorder.go) runs the next service added instead: from it,
// the attempt is handed to a goroutine started for it (sched.GoHandOff).

// runLifecycle runs e's lifecycle from from (lifecycleOnce), then the
// hand-offs that follow it.
func (m *mesh) runLifecycle(e *entry, from stage) {
	for m.lifecycleOnce(e, from) {
		if onLane(e, from) {
			m.sched.GoHandOff(&e.watchers)
			return
		}
		w := m.handOff(e)
		if w == nil {
			return
		}
		e, from = w.Data.e, afterResolution
	}
}

// handOff runs the attempt of one service waiting on e, which was
// initialized (sched.HandOff), counted in busy while the resolver runs,
// and returns it when its resolution ended: its lifecycle then goes on
// here, from afterResolution, and releases that count. A resolver that
// ends this goroutine with runtime.Goexit ends its resolution, told
// through sched.Config.Resume; the count is released on the way out.
func (m *mesh) handOff(e *entry) (w *resolution) {
	m.busy.Add(1)
	defer func() {
		if w == nil {
			m.busyDone()
		}
	}()
	return m.sched.HandOff(&e.watchers)
}

// onLane reports whether the lifecycle of e from from runs on the lane:
// that of a service without dependencies nor requirements, added for the
// first time, from its start. Every other runs on a goroutine of its own,
// counted in busy.
func onLane(e *entry, from stage) bool {
	return from == fromStart && e.resolution == nil && e.prev == nil && e.reqs == nil
}

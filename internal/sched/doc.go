// Package sched runs the resolvers of the services that wait for their
// dependencies. It owns the waiting records (Waiter), the queue of attempts,
// the polls of dependencies that arrive from outside the mesh, the
// broadcasts after a change, the wake-ups of the waiters that hold a
// service (Watchers), the resolution timeout, and the watchdog that leaves
// a stuck resolver behind.
//
// It knows nothing of services: the mesh (the root package, its only
// caller) embeds what it needs beside each record (Waiter.Data) and hands
// the Scheduler, once, the functions that are the mesh's own: running one
// attempt of a resolver, telling whether a wait is canceled, resuming a
// service whose wait ended, reporting a slow wait, counting the
// scheduler's goroutines among the mesh's. It imports internal/timing
// only.
//
// The contract:
//
// A waiting service is a record, not a goroutine. Its lifecycle goroutine
// runs its first attempt itself (Await); when that does not end the
// resolution, Await returns at once and the goroutine ends. Every later
// attempt is run by the scheduler's goroutine, one after another, so that
// a thousand waiters polling for a dependency from outside the mesh cost a
// loop over them, not a thousand goroutine switches, or by a hand-off; and
// whoever runs the attempt that ends the resolution tells the mesh
// (Config.Resume), which resumes the service's lifecycle from there.
//
// An attempt is run:
//   - at once, for a waiter that holds a service that was initialized or
//     removed (Initialized, Removed): for one of them off the scheduler (a
//     hand-off: on the goroutine that initialized the service, once done
//     with it, through HandOff, which then goes on with the waiter's Init:
//     along a chain, each link costs a function call; or on a goroutine
//     started for it), for the others by the scheduler; the one left to
//     HandOff is in the next broadcast too, so a hand-off that does not
//     come costs a broadcast's delay, never a wait; for a waiter
//     removed or canceled by shutdown, and after new settings (QueueAll);
//   - in a broadcast, for every waiter, after any service was added,
//     initialized or removed: within timing.BroadcastDelay (0.1 ms) of the
//     change, or, when one broadcast over every waiter takes longer, within
//     timing.BroadcastShare times as long as the last one took, so that
//     broadcasts never take more than about a tenth of a core however many
//     waiters and changes there are. Changes within that window share one
//     broadcast: a burst of N additions costs each waiter a number of
//     attempts that grows with the burst's duration, not with N;
//   - otherwise on its poll, backing off from timing.FirstPoll to
//     timing.MaxPoll and aligned on a grid, so that the polls of many
//     waiters fall due together and the scheduler wakes once for all of
//     them; from 2*pollSlotSize waiters on, in phases of that grid
//     (polls.go). A poll does not look for a cancellation: whoever cancels
//     queues the waiter, which turns a poll already queued into an
//     asked-for attempt.
//
// The scheduler reads the clock once per timing.ClockEvery attempts while
// they are quick. Never two attempts of one service at once: a waiter is
// queued at most once, and a change that arrives while its attempt runs
// queues it again when the attempt is over. A resolver that does not return
// holds up only its own service: when an attempt has run for
// timing.ResolverStallTicks ticks of the watchdog, the scheduler goes on on
// a new goroutine and leaves the old one to it; a hand-off's attempt holds
// only the goroutine it runs on, whose own service is done with.
//
// When an attempt ends a resolution, whoever ran it tells the mesh: Await's
// caller by its return, HandOff's by its return, the others through
// Config.Resume, with own true when the goroutine is the service's to keep
// (a hand-off started for it). A resolver that ends its goroutine with
// runtime.Goexit ends its own resolution, failed with Config.ErrGoexit,
// and the goroutine tells it through Config.Resume on its way out, whoever
// ran the attempt (Await and HandOff never return then); the scheduler's
// own goroutine is replaced at once. A waiter's service thus gets a goroutine
// back only once it is resolved (or its wait failed), to run its Init.
//
// The Scheduler's fields, and the fields of waiting records, are guarded by
// Scheduler.mu, which is never held while a resolver, or any function of
// the Config, runs (Config.Begin and Config.Canceled aside, which only read
// and step the service's state). Lock order: the mesh's registry mutex before
// Scheduler.mu.
package sched

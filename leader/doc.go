// Package leader runs a service in one replica of an application at a
// time: a scheduler, a migration, a queue consumer that must be single.
// The replicas elect a leader through a consensus store (etcd, see Etcd),
// never through a protocol of their own.
//
//	elector := leader.Etcd(client, "/myapp/cron/")
//	app.Add(leader.Singleton(&Cron{}, elector))
//
// Singleton adds the service on every replica under its own name: its Init
// runs everywhere, its Serve only in the replica that leads, with a context
// that ends when the term does. A term ends when the leader resigns (on
// shutdown, on Remove, when its Serve returns) or when it can no longer be
// sure that it leads: it ends no later than the send time of its last
// keep-alive that etcd answered plus the lease's TTL minus a quarter of it,
// so a leader cut off from etcd stops before another can be elected. Every
// term carries a fencing token (TokenFrom), greater than every earlier
// term's, for writes that must not come from an old leader: a process that
// was paused can still act on a term that ended meanwhile, and only the
// token lets the store it writes to refuse it (see docs/replicas.md).
package leader

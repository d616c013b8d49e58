package leader

import (
	"context"
	"errors"
)

// Elector elects one leader among the replicas that campaign with it.
type Elector interface {
	// Campaign blocks until this replica leads, and returns its Term, or
	// until ctx ends, and returns an error. A replica that campaigns again
	// after its term ended gets a new Term, with a greater token.
	Campaign(ctx context.Context) (Term, error)
}

// Term is one replica's leadership, from its election to its end.
type Term interface {
	// Done is closed when the term has ended: resigned, or lost (the
	// leader could no longer renew its claim in time). It is safe for
	// concurrent use.
	Done() <-chan struct{}
	// Token is the term's fencing token, greater than the token of every
	// earlier term of the same election (the same store and prefix).
	Token() int64
	// Resign ends the term and gives up the leadership at once, so that
	// another replica can be elected without waiting for it to expire.
	// It may be called more than once, and after the term was lost; it
	// returns when the store answered or ctx ended, and within a bound of
	// its own even when ctx never ends (Etcd's: the granted TTL, after
	// which the claim has expired anyway): a Singleton resigns with a
	// context that does not end, because resigning matters most while
	// the mesh is stopping, so a Resign without a bound of its own would
	// hold up the singleton's stop for as long as the store is out of
	// reach.
	Resign(ctx context.Context) error
}

// Errors for errors.Is.
var (
	// ErrNilClient is wrapped by the error of an elector made with a nil
	// etcd client.
	ErrNilClient = errors.New("leader: nil etcd client")
	// ErrEmptyPrefix is wrapped by the error of an elector made with an
	// empty key prefix.
	ErrEmptyPrefix = errors.New("leader: empty election prefix")
	// ErrNoServe is wrapped by the InitContext error of a Singleton whose
	// service has no Serve (servicemesh.HasServe): there would be nothing
	// to run only in the leader.
	ErrNoServe = errors.New("leader: service has no Serve")
	// ErrNilService is wrapped by the InitContext error of a Singleton
	// made with a nil service.
	ErrNilService = errors.New("leader: nil service")
	// ErrNilElector is wrapped by the InitContext error of a Singleton
	// made with a nil Elector.
	ErrNilElector = errors.New("leader: nil elector")
	// ErrLeaseLost is wrapped by Campaign's error when the replica's lease
	// could not be renewed while it waited to be elected.
	ErrLeaseLost = errors.New("leader: lease lost")
)

// tokenKey is the context key of a term's token (TokenFrom).
type tokenKey struct{}

// withToken returns ctx carrying token.
func withToken(ctx context.Context, token int64) context.Context {
	return context.WithValue(ctx, tokenKey{}, token)
}

// TokenFrom returns the fencing token of the term a Singleton's Serve runs
// in, read from the context it was given, and whether ctx carries one.
// A nil ctx carries none.
func TokenFrom(ctx context.Context) (int64, bool) {
	if ctx == nil {
		return 0, false
	}
	t, ok := ctx.Value(tokenKey{}).(int64)
	return t, ok
}

// checker is implemented by electors that can tell, before any campaign,
// that they were made with bad input (Etcd's nil client or empty prefix).
type checker interface {
	check() error
}

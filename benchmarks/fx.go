package benchmarks

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"sync/atomic"
	"time"

	"go.uber.org/fx"
)

// Fx runs the scenarios on go.uber.org/fx: fx.New with the constructors
// (fx.Provide) and what consumes them (fx.Invoke), which runs the
// constructors, then app.Start and app.Stop, which run the lifecycle hooks.
// Each service has its own fx.Provide, as if it came from its own package.
//
// fx tells dependencies apart by type. The many services of one type of S1,
// S3 and S4 form a value group, declared with fx.Out/fx.In structs rather
// than fx.Annotate, which is much slower (in v1.24 every fx.Annotate builds
// a throwaway dig container). The links of S2 and S5 have distinct types,
// fxLink[fxL0] ... fxLink[fxL99] and fxHolder[fxL0] ... fxHolder[fxL99],
// whose index types and options are generated in fx_chain.go.
var Fx = Peer{
	Name: "fx",
	S1:   fxS1,
	S2:   fxS2,
	S3:   fxS3,
	S4:   fxS4,
	S5:   fxS5,

	// fx has one way to declare a dependency: a constructor's parameters.
	RequireChain: fxS2,
	RequireFanIn: fxS3,
}

//go:generate go run ./cmd/genchain -depth 100 -o fx_chain.go

// fxCycle builds the app, starts and stops it.
func fxCycle(opts ...fx.Option) error {
	app := fx.New(append(opts, fx.NopLogger)...)
	if err := app.Err(); err != nil {
		return err
	}
	ctx := context.Background()
	if err := app.Start(ctx); err != nil {
		return err
	}
	return app.Stop(ctx)
}

// discardLogger is the constructor of the logger fx and do hand out.
func discardLogger() *slog.Logger {
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// fxLogged is an independent service with a logger.
type fxLogged struct {
	name   string
	logger *slog.Logger
}

// fxLoggedOut puts an fxLogged in the group of services.
type fxLoggedOut struct {
	fx.Out
	Service *fxLogged `group:"services"`
}

// fxLoggedIn takes the whole group.
type fxLoggedIn struct {
	fx.In
	Services []*fxLogged `group:"services"`
}

func fxS1(n int) error {
	ns := serviceNames(n)
	var inits, seen atomic.Int64
	opts := make([]fx.Option, 0, n+2)
	opts = append(opts, fx.Provide(discardLogger))
	for i := range n {
		name := ns[i]
		opts = append(opts, fx.Provide(func(l *slog.Logger) fxLoggedOut {
			inits.Add(1)
			return fxLoggedOut{Service: &fxLogged{name: name, logger: l.With("service", name)}}
		}))
	}
	opts = append(opts, fx.Invoke(func(in fxLoggedIn) { seen.Store(int64(len(in.Services))) }))
	if err := fxCycle(opts...); err != nil {
		return err
	}
	if err := expect("constructors run", inits.Load(), n); err != nil {
		return err
	}
	return expect("services invoked", seen.Load(), n)
}

// fxLink is link I of the chain; the index types I are in fx_chain.go.
type fxLink[I any] struct {
	idx  int
	done atomic.Bool
}

// fxChainLink returns the constructor of link i, of index type I, from link
// i+1, of index type Next.
func fxChainLink[I, Next any](o *order, i int) func(*fxLink[Next]) *fxLink[I] {
	return func(dep *fxLink[Next]) *fxLink[I] {
		l := &fxLink[I]{idx: i}
		o.add(i, dep.idx == i+1 && dep.done.Load())
		l.done.Store(true)
		return l
	}
}

// fxChainEnd returns the constructor of the last link, which needs nothing.
func fxChainEnd[I any](o *order, i int) func() *fxLink[I] {
	return func() *fxLink[I] {
		l := &fxLink[I]{idx: i}
		o.add(i, true)
		l.done.Store(true)
		return l
	}
}

// fxS2 provides link i from link i+1 and invokes link 0: fx runs the
// constructors from the end of the chain.
func fxS2(depth int) error {
	if depth != fxChainDepth {
		return fmt.Errorf("fx_chain.go has a chain of %d, not %d: run go generate", fxChainDepth, depth)
	}
	o := newOrder(depth)
	if err := fxCycle(fxChainOptions(o)...); err != nil {
		return err
	}
	return o.checkChain(depth)
}

// fxDB is what every fxUser needs.
type fxDB struct{ done atomic.Bool }

type fxUser struct{ db *fxDB }

type fxUserOut struct {
	fx.Out
	User *fxUser `group:"users"`
}

type fxUsersIn struct {
	fx.In
	Users []*fxUser `group:"users"`
}

func fxS3(n int) error {
	o := newOrder(n)
	opts := make([]fx.Option, 0, n+2)
	for i := range n {
		opts = append(opts, fx.Provide(func(db *fxDB) fxUserOut {
			o.add(i, db.done.Load())
			return fxUserOut{User: &fxUser{db: db}}
		}))
	}
	opts = append(opts, fx.Provide(func() *fxDB {
		db := &fxDB{}
		db.done.Store(true)
		return db
	}))
	opts = append(opts, fx.Invoke(func(fxUsersIn) {}))
	if err := fxCycle(opts...); err != nil {
		return err
	}
	return o.checkCount(n)
}

type fxSlowStop struct{}

type fxSlowStopOut struct {
	fx.Out
	Service *fxSlowStop `group:"stoppers"`
}

type fxSlowStopsIn struct {
	fx.In
	Services []*fxSlowStop `group:"stoppers"`
}

func fxS4(n int, delay time.Duration) (func() error, error) {
	stops := new(atomic.Int64)
	opts := make([]fx.Option, 0, n+2)
	for range n {
		opts = append(opts, fx.Provide(func(lc fx.Lifecycle) fxSlowStopOut {
			lc.Append(fx.Hook{OnStop: func(context.Context) error {
				time.Sleep(delay)
				stops.Add(1)
				return nil
			}})
			return fxSlowStopOut{Service: &fxSlowStop{}}
		}))
	}
	opts = append(opts, fx.Invoke(func(fxSlowStopsIn) {}), fx.NopLogger)
	app := fx.New(opts...)
	if err := app.Err(); err != nil {
		return nil, err
	}
	if err := app.Start(context.Background()); err != nil {
		return nil, err
	}
	return func() error {
		if err := app.Stop(context.Background()); err != nil {
			return fmt.Errorf("stop: %w", err)
		}
		return expect("OnStop hooks run", stops.Load(), n)
	}, nil
}

// fxHolder is link I of the S5 chain: it holds the link it was made from.
type fxHolder[I any] struct {
	pos  int
	prev any // the *fxHolder it was made from; nil for the end of the chain
}

// fxHolderOf returns the constructor of the link of index type I, at
// position pos of the S5 chain, from the link of index type Next, at
// position pos-1; its OnStop hook records pos.
func fxHolderOf[I, Next any](s *stopOrder, pos int) func(fx.Lifecycle, *fxHolder[Next]) *fxHolder[I] {
	return func(lc fx.Lifecycle, prev *fxHolder[Next]) *fxHolder[I] {
		lc.Append(fx.Hook{OnStop: func(context.Context) error {
			s.stop(pos)
			return nil
		}})
		return &fxHolder[I]{pos: pos, prev: prev}
	}
}

// fxHolderEnd returns the constructor of the link at position 0, which
// needs nothing.
func fxHolderEnd[I any](s *stopOrder, pos int) func(fx.Lifecycle) *fxHolder[I] {
	return func(lc fx.Lifecycle) *fxHolder[I] {
		lc.Append(fx.Hook{OnStop: func(context.Context) error {
			s.stop(pos)
			return nil
		}})
		return &fxHolder[I]{pos: pos}
	}
}

// fxS5 provides the link of index type fxLk, at position depth-1-k, from
// fxL(k+1) and invokes fxL0, the link at position depth-1: fx runs the
// constructors, and so appends the OnStop hooks, from position 0, and runs
// the hooks in the reverse order.
func fxS5(depth int) (func() error, error) {
	if depth != fxChainDepth {
		return nil, fmt.Errorf("fx_chain.go has a chain of %d, not %d: run go generate", fxChainDepth, depth)
	}
	stops := newStopOrder(depth)
	app := fx.New(append(fxHolderOptions(stops), fx.NopLogger)...)
	if err := app.Err(); err != nil {
		return nil, err
	}
	if err := app.Start(context.Background()); err != nil {
		return nil, err
	}
	return func() error {
		if err := app.Stop(context.Background()); err != nil {
			return fmt.Errorf("stop: %w", err)
		}
		return stops.check()
	}, nil
}

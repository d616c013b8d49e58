package benchmarks

import (
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/samber/do/v2"
)

// Do runs the scenarios on github.com/samber/do/v2: do.New, do.Provide /
// do.ProvideNamed of lazy constructors, do.MustInvoke / MustInvokeNamed,
// which runs them, and injector.Shutdown, which calls the Shutdowner
// services, dependents first, in parallel where it can.
var Do = Peer{
	Name: "do",
	S1:   doS1,
	S2:   doS2,
	S3:   doS3,
	S4:   doS4,
	S5:   doS5,

	// do has one way to declare a dependency: invoking it in the provider.
	RequireChain: doS2,
	RequireFanIn: doS3,
}

// shutdownDo shuts the injector down and reports its errors.
func shutdownDo(i *do.RootScope) error {
	if rep := i.Shutdown(); !rep.Succeed {
		return fmt.Errorf("shutdown: %v", rep.Error())
	}
	return nil
}

// doLogged is an independent service with a logger.
type doLogged struct {
	name   string
	logger *slog.Logger
}

func doS1(n int) error {
	ns := serviceNames(n)
	var inits atomic.Int64
	inj := do.New()
	do.Provide(inj, func(do.Injector) (*slog.Logger, error) { return discardLogger(), nil })
	for i := range n {
		name := ns[i]
		do.ProvideNamed(inj, name, func(i do.Injector) (*doLogged, error) {
			l := do.MustInvoke[*slog.Logger](i)
			inits.Add(1)
			return &doLogged{name: name, logger: l.With("service", name)}, nil
		})
	}
	for i := range n {
		do.MustInvokeNamed[*doLogged](inj, ns[i])
	}
	if err := shutdownDo(inj); err != nil {
		return err
	}
	return expect("constructors run", inits.Load(), n)
}

// doLink is one link of the chain.
type doLink struct {
	idx  int
	done atomic.Bool
}

// doS2 provides link i, named "si", from link i+1 and invokes link 0: do
// runs the constructors from the end of the chain.
func doS2(depth int) error {
	ns := serviceNames(depth)
	o := newOrder(depth)
	inj := do.New()
	for i := range depth {
		do.ProvideNamed(inj, ns[i], func(inj do.Injector) (*doLink, error) {
			ready := true
			if i < depth-1 {
				dep := do.MustInvokeNamed[*doLink](inj, ns[i+1])
				ready = dep.idx == i+1 && dep.done.Load()
			}
			l := &doLink{idx: i}
			o.add(i, ready)
			l.done.Store(true)
			return l, nil
		})
	}
	do.MustInvokeNamed[*doLink](inj, ns[0])
	if err := shutdownDo(inj); err != nil {
		return err
	}
	return o.checkChain(depth)
}

type doDB struct{ done atomic.Bool }

type doUser struct{ db *doDB }

func doS3(n int) error {
	ns := serviceNames(n)
	o := newOrder(n)
	inj := do.New()
	for i := range n {
		do.ProvideNamed(inj, ns[i], func(inj do.Injector) (*doUser, error) {
			db := do.MustInvokeNamed[*doDB](inj, "db")
			o.add(i, db.done.Load())
			return &doUser{db: db}, nil
		})
	}
	do.ProvideNamed(inj, "db", func(do.Injector) (*doDB, error) {
		db := &doDB{}
		db.done.Store(true)
		return db, nil
	})
	for i := range n {
		do.MustInvokeNamed[*doUser](inj, ns[i])
	}
	if err := shutdownDo(inj); err != nil {
		return err
	}
	return o.checkCount(n)
}

// doSlowStop is a service whose Shutdown sleeps.
type doSlowStop struct {
	delay time.Duration
	stops *atomic.Int64
}

func (s *doSlowStop) Shutdown() {
	time.Sleep(s.delay)
	s.stops.Add(1)
}

func doS4(n int, delay time.Duration) (func() error, error) {
	ns := serviceNames(n)
	stops := new(atomic.Int64)
	inj := do.New()
	for i := range n {
		do.ProvideNamed(inj, ns[i], func(do.Injector) (*doSlowStop, error) {
			return &doSlowStop{delay: delay, stops: stops}, nil
		})
	}
	for i := range n {
		do.MustInvokeNamed[*doSlowStop](inj, ns[i])
	}
	return func() error {
		if err := shutdownDo(inj); err != nil {
			return err
		}
		return expect("Shutdown calls", stops.Load(), n)
	}, nil
}

// doHolder is one service of the S5 chain: it holds the one before it, which
// its provider invoked (do records the dependency), and its Shutdown records
// its position.
type doHolder struct {
	pos   int
	prev  *doHolder
	stops *stopOrder
}

func (h *doHolder) Shutdown() { h.stops.stop(h.pos) }

// doS5 provides service i, named "si", from service i-1 and invokes the last
// one, which builds the whole chain.
func doS5(depth int) (func() error, error) {
	ns := serviceNames(depth)
	stops := newStopOrder(depth)
	inj := do.New()
	for i := range depth {
		do.ProvideNamed(inj, ns[i], func(inj do.Injector) (*doHolder, error) {
			h := &doHolder{pos: i, stops: stops}
			if i > 0 {
				h.prev = do.MustInvokeNamed[*doHolder](inj, ns[i-1])
			}
			return h, nil
		})
	}
	do.MustInvokeNamed[*doHolder](inj, ns[depth-1])
	return func() error {
		if err := shutdownDo(inj); err != nil {
			return err
		}
		return stops.check()
	}, nil
}

package servicemesh

import (
	"context"
	"errors"
	"fmt"
)

// Func returns a service named name that is only a Serve: no Init to write,
// no struct to declare. serve runs after the service is added, as HasServe
// says: it is restarted by the restart policy when it fails, its context
// ends when the service's turn to stop comes, and returning nil ends the
// service.
//
//	m.Add(servicemesh.Func("ticker", func(ctx context.Context) error {
//		t := time.NewTicker(time.Second)
//		defer t.Stop()
//		for {
//			select {
//			case <-ctx.Done():
//				return nil
//			case <-t.C:
//				log.Print("tick")
//			}
//		}
//	}))
//
// Each call returns a service of its own, even for the same name and
// function. A nil serve is not a panic: the service's start fails with an
// error that names it (and the mesh follows its failure rule).
func Func(name string, serve func(ctx context.Context) error) Service {
	return &serveFunc{name: name, serve: serve}
}

// errNoServe is the cause of the failed start of a Func without a function.
var errNoServe = errors.New("its serve function is nil")

// serveFunc is the service Func returns.
type serveFunc struct {
	name  string
	serve func(ctx context.Context) error
}

func (f *serveFunc) Name() string { return f.name }

// Init does nothing; InitContext, which the mesh calls instead, checks the
// function.
func (f *serveFunc) Init(Mesh) {}

func (f *serveFunc) InitContext(context.Context, Mesh) error {
	if f.serve == nil {
		return fmt.Errorf("servicemesh: Func %q: %w", f.name, errNoServe)
	}
	return nil
}

func (f *serveFunc) Serve(ctx context.Context) error { return f.serve(ctx) }

package servicemesh_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"testing/synctest"

	"github.com/gravestench/servicemesh"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Func is a service that is only a Serve: served after it is added, its
// context ended at its stop, supervised like any HasServe.
func TestFuncServesUntilItsStop(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := frMesh(t)
		var served, ended atomic.Bool
		f := servicemesh.Func("ticker", func(ctx context.Context) error {
			served.Store(true)
			<-ctx.Done()
			ended.Store(true)
			return nil
		})
		require.Equal(t, "ticker", f.Name())
		m.Add(f).Wait()
		synctest.Wait()
		assert.True(t, served.Load())
		assert.Equal(t, servicemesh.StateRunning, frState(t, m, "ticker"))
		assert.True(t, servicemesh.Ready(m))
		m.Shutdown().Wait()
		assert.True(t, ended.Load())
		assert.Equal(t, servicemesh.StateStopped, frState(t, m, "ticker"))
	})
}

// Two Funcs with one name and one function are two services.
func TestFuncsAreServicesOfTheirOwn(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := frMesh(t)
		var calls atomic.Int32
		serve := func(ctx context.Context) error { calls.Add(1); <-ctx.Done(); return nil }
		m.Add(servicemesh.Func("worker", serve)).Wait()
		m.Add(servicemesh.Func("worker", serve)).Wait()
		synctest.Wait()
		assert.Len(t, servicemesh.Status(m).Services, 2)
		assert.Equal(t, int32(2), calls.Load())
		m.Shutdown().Wait()
	})
}

// A Func without a function fails its start with an error naming it; never
// a panic.
func TestFuncWithoutAFunctionFailsItsStart(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := frMesh(t)
		m.Add(servicemesh.Func("empty", nil))
		err := servicemesh.RunContext(context.Background(), m)
		var se *servicemesh.ServiceError
		require.True(t, errors.As(err, &se), "%v", err)
		assert.Equal(t, "empty", se.Service)
		assert.Equal(t, "init", se.Op)
		assert.ErrorContains(t, err, `Func "empty": its serve function is nil`)
	})
}

package servicemesh

import (
	"bytes"
	"log/slog"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
)

func TestMeshDebugChatterIsFreeWhenDisabled(t *testing.T) {
	m := New("quiet").(*mesh)
	m.SetLogDestination(nil)
	name := "svc"
	assert.Zero(t, testing.AllocsPerRun(100, func() { m.debug("initializing service", "subject", name) }))

	var buf bytes.Buffer
	m.SetLogDestination(&buf)
	m.SetLogLevel(slog.LevelDebug)
	m.debug("initializing service", "subject", name)
	assert.Contains(t, buf.String(), "level=DEBUG msg=\"initializing service\" service=quiet subject=svc")
	m.Shutdown().Wait()
}

// Guards: nothing the mesh logs about an Add is written after its
// WaitGroup is done, "mesh ready" included, which comes only after Run.
// Programs, and the original library's own tests, read a plain
// bytes.Buffer destination right after Add(...).Wait(); a later write from
// a goroutine of the mesh raced with them.
func TestNothingLoggedAfterAddWaitBeforeRun(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := New("plain buffer")
		var buf bytes.Buffer // not safe for concurrent use, as in the original's tests
		m.SetLogDestination(&buf)
		m.Add(&plainSvc{name: "a"}).Wait()
		m.Add(&plainSvc{name: "b"}).Wait()
		before := buf.String()
		time.Sleep(time.Minute)
		synctest.Wait()
		assert.Equal(t, before, buf.String(), "nothing written after the Waits")
		assert.NotContains(t, buf.String(), "mesh ready")

		ran := make(chan struct{})
		go func() {
			defer close(ran)
			m.Run()
		}()
		synctest.Wait() // Run writes now; the test reads after the shutdown
		m.Shutdown().Wait()
		<-ran
		assert.Contains(t, buf.String(), `msg="mesh ready" service="plain buffer" services=2`)
	})
}

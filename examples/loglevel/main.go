// Command loglevel shows how the mesh's logging is controlled at run time.
//
// Every logger the mesh hands out, through HasLogger, writes through one
// handler the mesh owns. So SetLogLevel and SetLogDestination take effect at
// once for every service, including loggers handed out earlier:
//
//   - at the default level, Info, the service's debug lines are dropped;
//   - after SetLogLevel(slog.LevelDebug) they appear, as does the mesh's own
//     lifecycle chatter, which it logs at Debug;
//   - after SetLogDestination(&buf) the lines go to buf instead of standard
//     output.
//
// The program ends by itself. Run it from the repository root with:
//
//	go run ./examples/loglevel
package main

import (
	"bytes"
	"fmt"
	"log/slog"
	"os"
	"strings"

	"github.com/gravestench/servicemesh"
)

// chatty logs a line at each level when asked to.
type chatty struct {
	logger *slog.Logger
}

func (c *chatty) Name() string                  { return "chatty" }
func (c *chatty) Init(servicemesh.Mesh)         {}
func (c *chatty) SetLogger(logger *slog.Logger) { c.logger = logger }
func (c *chatty) Logger() *slog.Logger          { return c.logger }

func (c *chatty) speak(step string) {
	c.logger.Debug("a detail nobody needs", "step", step)
	c.logger.Info("something worth knowing", "step", step)
}

func main() {
	mesh := servicemesh.New("loglevel example")
	c := &chatty{}
	// Nothing the mesh logs about this Add comes after its Wait, and the
	// mesh says it is ready only once Run is called: the steps below are
	// not interleaved with the mesh's own lines.
	mesh.Add(c).Wait()

	fmt.Println("--- step 1: default level Info, the debug line is dropped")
	c.speak("1")

	fmt.Println("--- step 2: SetLogLevel(slog.LevelDebug), the debug line appears")
	mesh.SetLogLevel(slog.LevelDebug)
	c.speak("2")

	fmt.Println("--- step 3: SetLogDestination(&buf), nothing appears here")
	var buf bytes.Buffer
	mesh.SetLogDestination(&buf)
	c.speak("3")

	// Back to standard output before reading buf: no logger writes to it
	// any more.
	mesh.SetLogDestination(os.Stdout)
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	fmt.Printf("--- the buffer caught %d lines:\n%s", len(lines), buf.String())

	fmt.Println("--- step 4: SetLogLevel(slog.LevelWarn), both lines are dropped")
	mesh.SetLogLevel(slog.LevelWarn)
	c.speak("4")

	fmt.Println("--- shutting down at level Debug: the mesh's own debug lines")
	mesh.SetLogLevel(slog.LevelDebug)
	mesh.Shutdown().Wait()
	fmt.Println("main: done")
}

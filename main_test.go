package servicemesh_test

import (
	"fmt"
	"os"
	"testing"

	"go.uber.org/goleak"
)

// childModeEnv names the environment variable that turns the test binary
// into a helper process: a test re-runs its own binary (os.Args[0]) with this
// variable set to the name of a mode registered in childModes, and TestMain
// runs that mode instead of the tests. See signal_test.go.
const childModeEnv = "SERVICEMESH_TEST_CHILD_MODE"

// childModes maps a mode name to the function the child process runs; the
// process exits with the code it returns. Test files register their modes
// from init functions.
var childModes = map[string]func() int{}

// TestMain runs a child-process mode when asked to, and otherwise the tests,
// checking that none of them leaves a goroutine behind: every mesh a test
// creates must be shut down and waited for.
func TestMain(m *testing.M) {
	if mode, ok := os.LookupEnv(childModeEnv); ok {
		run, found := childModes[mode]
		if !found {
			fmt.Fprintf(os.Stderr, "unknown %s %q\n", childModeEnv, mode)
			os.Exit(2)
		}
		os.Exit(run())
	}
	goleak.VerifyTestMain(m)
}

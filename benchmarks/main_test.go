package benchmarks

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain runs the tests and benchmarks and then checks that none of them
// left a goroutine behind: every mesh, app and injector they make must be
// shut down and waited for.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

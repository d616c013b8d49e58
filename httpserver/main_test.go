package httpserver_test

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain checks that no test leaves a goroutine behind: every mesh is shut
// down and waited for, every srv.Serve has returned, and every client's idle
// connections are closed.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

//go:build !unix

package benchmarks

import (
	"errors"
	"time"
)

// processCPU is only implemented on Unix systems, through getrusage.
func processCPU() (time.Duration, error) {
	return 0, errors.New("measuring process CPU time needs getrusage (Unix)")
}

//go:build unix

package benchmarks

import (
	"syscall"
	"time"
)

// processCPU returns the CPU time, user plus system, used by the process.
func processCPU() (time.Duration, error) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, err
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), nil
}

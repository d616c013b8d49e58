//go:build !unix

package statuspage_test

import "time"

// processCPU is only implemented on Unix systems, through getrusage.
func processCPU() (time.Duration, bool) { return 0, false }

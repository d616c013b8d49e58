//go:build !linux

package signals

import "os"

// raise sends sig to the process, so that, with os/signal's handling of sig
// off, the process's default behaviour applies.
func raise(sig os.Signal) {
	if p, err := os.FindProcess(os.Getpid()); err == nil {
		_ = p.Signal(sig)
	}
}

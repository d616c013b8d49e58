package signals

import (
	"os"
	"runtime"
	"syscall"
)

// raise sends sig to the calling thread, which takes it before the system
// call returns: with os/signal's handling of sig off, the process's default
// behaviour applies at once, before anything can start handling it again.
func raise(sig os.Signal) {
	s, ok := sig.(syscall.Signal)
	if !ok {
		return
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	_ = syscall.Tgkill(syscall.Getpid(), syscall.Gettid(), s)
}

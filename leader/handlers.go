package leader

import "github.com/gravestench/servicemesh"

// The singleton binds every EventHandler* interface of servicemesh and
// passes each event on to the wrapped service if it implements that
// handler (a handler it lacks costs one type check per event). Where an
// event names the singleton itself, the wrapped service is passed instead,
// so that a service that recognizes its own events goes on doing so.

// inner returns the wrapped service in place of the singleton.
func (s *singleton) inner(svc servicemesh.Service) servicemesh.Service {
	if svc == s.outer && s.svc != nil {
		return s.svc
	}
	return svc
}

// OnServiceAdded forwards the event (servicemesh.EventHandlerServiceAdded).
func (s *singleton) OnServiceAdded(svc servicemesh.Service) {
	if h, ok := s.svc.(servicemesh.EventHandlerServiceAdded); ok {
		h.OnServiceAdded(s.inner(svc))
	}
}

// OnServiceRemoved forwards the event (servicemesh.EventHandlerServiceRemoved).
func (s *singleton) OnServiceRemoved(svc servicemesh.Service) {
	if h, ok := s.svc.(servicemesh.EventHandlerServiceRemoved); ok {
		h.OnServiceRemoved(s.inner(svc))
	}
}

// OnServiceInitialized forwards the event
// (servicemesh.EventHandlerServiceInitialized).
func (s *singleton) OnServiceInitialized(svc servicemesh.Service) {
	if h, ok := s.svc.(servicemesh.EventHandlerServiceInitialized); ok {
		h.OnServiceInitialized(s.inner(svc))
	}
}

// OnServiceEventsBound forwards the event
// (servicemesh.EventHandlerServiceEventsBound).
func (s *singleton) OnServiceEventsBound(svc servicemesh.Service) {
	if h, ok := s.svc.(servicemesh.EventHandlerServiceEventsBound); ok {
		h.OnServiceEventsBound(s.inner(svc))
	}
}

// OnServiceLoggerBound forwards the event
// (servicemesh.EventHandlerServiceLoggerBound).
func (s *singleton) OnServiceLoggerBound(svc servicemesh.Service) {
	if h, ok := s.svc.(servicemesh.EventHandlerServiceLoggerBound); ok {
		h.OnServiceLoggerBound(s.inner(svc))
	}
}

// OnServiceMeshRunLoopInitiated forwards the event
// (servicemesh.EventHandlerServiceMeshRunLoopInitiated).
func (s *singleton) OnServiceMeshRunLoopInitiated() {
	if h, ok := s.svc.(servicemesh.EventHandlerServiceMeshRunLoopInitiated); ok {
		h.OnServiceMeshRunLoopInitiated()
	}
}

// OnServiceMeshShutdownInitiated forwards the event
// (servicemesh.EventHandlerServiceMeshShutdownInitiated).
func (s *singleton) OnServiceMeshShutdownInitiated() {
	if h, ok := s.svc.(servicemesh.EventHandlerServiceMeshShutdownInitiated); ok {
		h.OnServiceMeshShutdownInitiated()
	}
}

// OnDependencyResolutionStarted forwards the event
// (servicemesh.EventHandlerDependencyResolutionStarted).
func (s *singleton) OnDependencyResolutionStarted(svc servicemesh.Service) {
	if h, ok := s.svc.(servicemesh.EventHandlerDependencyResolutionStarted); ok {
		h.OnDependencyResolutionStarted(s.inner(svc))
	}
}

// OnDependencyResolutionEnded forwards the event
// (servicemesh.EventHandlerDependencyResolutionEnded).
func (s *singleton) OnDependencyResolutionEnded(svc servicemesh.Service) {
	if h, ok := s.svc.(servicemesh.EventHandlerDependencyResolutionEnded); ok {
		h.OnDependencyResolutionEnded(s.inner(svc))
	}
}

// OnDependencyResolutionFailed forwards the event
// (servicemesh.EventHandlerDependencyResolutionFailed).
func (s *singleton) OnDependencyResolutionFailed(svc servicemesh.Service, err error) {
	if h, ok := s.svc.(servicemesh.EventHandlerDependencyResolutionFailed); ok {
		h.OnDependencyResolutionFailed(s.inner(svc), err)
	}
}

// OnServiceFailed forwards the event (servicemesh.EventHandlerServiceFailed).
func (s *singleton) OnServiceFailed(svc servicemesh.Service, err error) {
	if h, ok := s.svc.(servicemesh.EventHandlerServiceFailed); ok {
		h.OnServiceFailed(s.inner(svc), err)
	}
}

// OnServiceRestarting forwards the event
// (servicemesh.EventHandlerServiceRestarting).
func (s *singleton) OnServiceRestarting(svc servicemesh.Service, err error) {
	if h, ok := s.svc.(servicemesh.EventHandlerServiceRestarting); ok {
		h.OnServiceRestarting(s.inner(svc), err)
	}
}

// OnMeshReady forwards the event (servicemesh.EventHandlerMeshReady).
func (s *singleton) OnMeshReady() {
	if h, ok := s.svc.(servicemesh.EventHandlerMeshReady); ok {
		h.OnMeshReady()
	}
}

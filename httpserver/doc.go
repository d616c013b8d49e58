// Package httpserver runs an *http.Server as a service of a servicemesh
// mesh, with the lifecycle written once:
//
//   - InitContext binds srv.Addr, so that a port in use, or a bad address,
//     fails the start (a *servicemesh.ServiceError with Op "init" naming the
//     address) instead of a goroutine failing later;
//   - Serve serves on that listener and returns when its context ends,
//     leaving the server running so that requests in flight go on;
//   - OnShutdownContext drains the server with srv.Shutdown within the
//     mesh's stop deadline (servicemesh.SetShutdownTimeout), then closes it
//     with srv.Close; a drain that outlasts the deadline is reported as
//     servicemesh.ErrStopTimeout.
//
// The service is ready (servicemesh.HasReadiness) from the bind until its
// stop, and Addr gives the bound address, which is how a program or a test
// that listens on port 0 learns its port:
//
//	srv := &http.Server{Addr: "127.0.0.1:0", Handler: mux}
//	web := httpserver.New("web", srv)
//	app.Add(web)
//	if err := servicemesh.WaitReady(ctx, app); err != nil {
//		return err
//	}
//	fmt.Println("listening on", web.Addr())
//
// The server's own settings (handler, timeouts, TLSConfig, ErrorLog...) stay
// the application's: the service only binds, serves and stops it. It serves
// plain HTTP (srv.Serve); for TLS, terminate it in front of the process or
// write a service of your own around srv.ServeTLS.
package httpserver

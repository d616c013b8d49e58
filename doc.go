// Package servicemesh runs an application as a mesh of in-process services.
//
// A program creates a mesh, adds its services and runs it. The mesh gives
// each service a structured logger (HasLogger), binds the event handlers it
// implements (the EventHandler* interfaces) on a shared event bus, hands it
// the other services until it has found what it depends on
// (HasDependencies), calls its Init (in the order added, for services
// without dependencies), and, when SIGINT or SIGTERM arrives or Shutdown is
// called, stops every service whose Init began, newest first, within a
// deadline (HasGracefulShutdown, SetShutdownTimeout). Only Service, with
// Init and Name, is required; everything else is opt-in by implementing an
// interface. Programs written for the original library of this name run
// unchanged, including services that run their loop inside Init.
//
//	func main() {
//		app := servicemesh.New("my app")
//		app.Add(&web.Server{})
//		app.Add(&store.Postgres{})
//		app.Run()
//	}
//
// Every Mesh method is safe for concurrent use and may be called from inside
// Init, OnShutdown and event handlers. The mesh never holds a lock while it
// runs a service's code, and it recovers and logs a panic in that code so that
// the other services go on.
package servicemesh

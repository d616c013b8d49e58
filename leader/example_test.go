package leader_test

import (
	"context"
	"log"
	"time"

	"github.com/gravestench/servicemesh"
	"github.com/gravestench/servicemesh/leader"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// A service that must run in one replica at a time, added on every
// replica. (Not run here: it needs an etcd at 127.0.0.1:2379; the tests
// run the same against an embedded one.)
func ExampleSingleton() {
	client, err := clientv3.New(clientv3.Config{Endpoints: []string{"http://127.0.0.1:2379"}})
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close()

	app := servicemesh.New("my app")
	report := servicemesh.Func("nightly report", func(ctx context.Context) error {
		token, _ := leader.TokenFrom(ctx) // pass it along with every write
		log.Print("this replica leads, token ", token)
		<-ctx.Done() // the term ended, or the replica is stopping
		return nil
	})
	app.Add(leader.Singleton(report, leader.Etcd(client, "/my-app/nightly-report/", leader.WithTTL(5*time.Second))))
	if err := servicemesh.RunContext(context.Background(), app); err != nil {
		log.Fatal(err)
	}
}

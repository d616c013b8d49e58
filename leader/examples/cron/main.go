// Command cron is one replica of an application whose "cron" service must
// run in exactly one replica at a time: start several against one etcd and
// only the elected one ticks. Each tick is a write to etcd fenced with the
// term's token (see fence.go), so a replica that lost its term meanwhile
// (paused, cut off) cannot overwrite a newer leader's.
//
// Its status page, at /debug/mesh/ on -addr, shows which replica leads:
// the cron service's detail reads "leader (token N)" in the leader and
// "standby" in the others.
//
//	cron -endpoints http://127.0.0.1:2379 -addr 127.0.0.1:8081 -replica one
//	cron -endpoints http://127.0.0.1:2379 -addr 127.0.0.1:8082 -replica two
//	cron -endpoints http://127.0.0.1:2379 -addr 127.0.0.1:8083 -replica three
//
// Stop the leader with Ctrl+C and another takes over at once; kill it with
// kill -9 and another takes over within the TTL (-ttl, 10 s by default).
// See leader/examples/cron/README.md for starting a local etcd.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/gravestench/servicemesh"
	"github.com/gravestench/servicemesh/httpserver"
	"github.com/gravestench/servicemesh/leader"
	"github.com/gravestench/servicemesh/statuspage"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
)

func main() {
	if err := run(context.Background(), os.Args[1:], os.Stdout); err != nil {
		log.Fatal(err)
	}
}

// config is what the flags say.
type config struct {
	endpoints []string
	addr      string
	replica   string
	prefix    string
	ttl       time.Duration
	every     time.Duration
}

// parse reads the flags in args.
func parse(args []string, out io.Writer) (config, error) {
	host, _ := os.Hostname()
	var c config
	fs := flag.NewFlagSet("cron", flag.ContinueOnError)
	fs.SetOutput(out)
	endpoints := fs.String("endpoints", "http://127.0.0.1:2379", "etcd's client endpoints, separated by commas")
	fs.StringVar(&c.addr, "addr", "127.0.0.1:8080", "the address of the status page (/debug/mesh/); port 0 picks one")
	fs.StringVar(&c.replica, "replica", fmt.Sprintf("%s-%d", host, os.Getpid()), "this replica's name, in its log and its ticks")
	fs.StringVar(&c.prefix, "prefix", "/servicemesh-example/cron/", "the etcd key prefix of the election and of the ticks")
	fs.DurationVar(&c.ttl, "ttl", 10*time.Second, "the TTL of the replica's lease: a crashed leader is replaced within it")
	fs.DurationVar(&c.every, "every", 2*time.Second, "how often the leader ticks")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	for _, e := range strings.Split(*endpoints, ",") {
		if e = strings.TrimSpace(e); e != "" {
			c.endpoints = append(c.endpoints, e)
		}
	}
	if len(c.endpoints) == 0 {
		return c, fmt.Errorf("-endpoints: no etcd endpoint given")
	}
	return c, nil
}

// run runs one replica until SIGINT or SIGTERM (or ctx ends), and writes
// the status page's address to out once it is ready.
func run(ctx context.Context, args []string, out io.Writer) error {
	cfg, err := parse(args, out)
	if err != nil {
		return err
	}
	client, err := clientv3.New(clientv3.Config{Endpoints: cfg.endpoints, DialTimeout: 5 * time.Second, Logger: zap.NewNop()})
	if err != nil {
		return fmt.Errorf("etcd client for %v: %w", cfg.endpoints, err)
	}
	defer client.Close()

	m := servicemesh.New("cron replica " + cfg.replica)
	mux := http.NewServeMux()
	mux.Handle("/debug/mesh/", http.StripPrefix("/debug/mesh", statuspage.Handler(m)))
	web := httpserver.New("status page", &http.Server{Addr: cfg.addr, Handler: mux, ReadHeaderTimeout: 5 * time.Second})
	m.Add(web)
	m.Add(leader.Singleton(&cron{client: client, replica: cfg.replica, key: cfg.prefix + "last-tick", every: cfg.every},
		leader.Etcd(client, cfg.prefix+"election/", leader.WithTTL(cfg.ttl))))

	go func() {
		if servicemesh.WaitReady(ctx, m) == nil {
			fmt.Fprintf(out, "replica %s: status page at http://%s/debug/mesh/\n", cfg.replica, web.Addr())
		}
	}()
	return servicemesh.RunContext(ctx, m)
}

package main

import (
	"flag"
	"fmt"
	"strconv"
	"time"

	"github.com/gravestench/servicemesh"
)

// config holds the settings. It is a service so that the services that
// need it can hold it, and so stop before it.
type config struct {
	Addr       string
	DrainDelay time.Duration
	FailStore  bool
}

func (c *config) Name() string          { return "config" }
func (c *config) Init(servicemesh.Mesh) {}

// loadConfig reads the settings from args, with getenv giving the
// defaults.
func loadConfig(args []string, getenv func(string) string) (*config, error) {
	c := &config{Addr: "127.0.0.1:8080", DrainDelay: 5 * time.Second}
	if v := getenv("HTTP_ADDR"); v != "" {
		c.Addr = v
	}
	if v := getenv("DRAIN_DELAY"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			return nil, fmt.Errorf("DRAIN_DELAY: %w", err)
		}
		c.DrainDelay = d
	}
	if v := getenv("STORE_FAIL"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return nil, fmt.Errorf("STORE_FAIL: %w", err)
		}
		c.FailStore = b
	}
	fs := flag.NewFlagSet("http", flag.ContinueOnError)
	fs.StringVar(&c.Addr, "addr", c.Addr, "address to listen on (host:port; port 0 picks a free one) [$HTTP_ADDR]")
	fs.DurationVar(&c.DrainDelay, "drain", c.DrainDelay, "how long to keep serving, not ready, after SIGTERM [$DRAIN_DELAY]")
	fs.BoolVar(&c.FailStore, "fail-store", c.FailStore, "make opening the store fail, to see a failed start [$STORE_FAIL]")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	return c, nil
}

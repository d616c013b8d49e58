package main

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/gravestench/servicemesh"
	"github.com/gravestench/servicemesh/leader"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// cron ticks every so often, in the replica that leads only: each tick
// writes the replica's name and the time to key, fenced with the term's
// token. Its fields are set before it is added, except logger, which the
// mesh sets before Serve runs.
type cron struct {
	client  *clientv3.Client
	replica string
	key     string
	every   time.Duration
	logger  *slog.Logger
}

func (c *cron) Name() string             { return "cron" }
func (c *cron) Init(servicemesh.Mesh)    {}
func (c *cron) SetLogger(l *slog.Logger) { c.logger = l }
func (c *cron) Logger() *slog.Logger     { return c.logger }

// Serve ticks until its context ends, with the term.
func (c *cron) Serve(ctx context.Context) error {
	token, _ := leader.TokenFrom(ctx)
	c.logger.Info("this replica leads: ticking", "replica", c.replica, "token", token)
	t := time.NewTicker(c.every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			c.logger.Info("term over: no more ticks", "replica", c.replica, "token", token)
			return nil
		case now := <-t.C:
			ok, err := fencedPut(ctx, c.client, token, c.key, fmt.Sprintf("%s at %s", c.replica, now.Format(time.RFC3339)))
			switch {
			case err != nil && ctx.Err() == nil:
				c.logger.Warn("tick not written", "error", err)
			case err == nil && !ok:
				c.logger.Warn("tick refused: a newer leader has written", "token", token)
			case err == nil:
				c.logger.Info("tick", "replica", c.replica, "token", token)
			}
		}
	}
}

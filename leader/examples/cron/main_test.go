package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gravestench/servicemesh/leader/internal/etcdtest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/goleak"
	"go.uber.org/zap"
)

// replicaEnv makes the test binary run the example (run) with the
// arguments after "--", as a replica started by TestThreeReplicas.
const replicaEnv = "CRON_EXAMPLE_REPLICA"

func TestMain(m *testing.M) {
	if os.Getenv(replicaEnv) != "" {
		args := os.Args[slices.Index(os.Args, "--")+1:]
		if err := run(context.Background(), args, os.Stdout); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	goleak.VerifyTestMain(m)
}

// report is the part of the status page's status.json the test reads.
type report struct {
	Services []struct {
		Name   string `json:"name"`
		State  string `json:"state"`
		Detail string `json:"detail"`
	} `json:"services"`
}

// cronDetail returns the cron service's detail on the status page at base.
func cronDetail(t *testing.T, base string) string {
	t.Helper()
	resp, err := http.Get(base + "status.json")
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	var r report
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&r))
	for _, s := range r.Services {
		if s.Name == "cron" {
			return s.Detail
		}
	}
	t.Fatalf("no cron service on the status page at %s", base)
	return ""
}

// The example, run as three processes against one etcd, elects exactly one
// leader, which ticks; the status pages say which replica leads.
func TestThreeReplicas(t *testing.T) {
	endpoint := etcdtest.Start(t)
	const prefix = "/cron-example/"
	pages := map[string]string{} // replica → status page URL
	var procs []*exec.Cmd
	lines := make(chan string, 1024) // the replicas' stdout; lines beyond are dropped, never block a reader
	for _, name := range []string{"one", "two", "three"} {
		cmd := exec.Command(os.Args[0], "-test.run=^$", "--",
			"-endpoints", endpoint, "-addr", "127.0.0.1:0", "-replica", name,
			"-prefix", prefix, "-ttl", "5s", "-every", "200ms")
		cmd.Env = append(os.Environ(), replicaEnv+"=1")
		cmd.Stderr = io.Discard
		out, err := cmd.StdoutPipe()
		require.NoError(t, err)
		require.NoError(t, cmd.Start())
		procs = append(procs, cmd)
		t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
		go func() {
			s := bufio.NewScanner(out)
			for s.Scan() {
				select {
				case lines <- s.Text():
				default:
				}
			}
		}()
	}
	// Each replica says when its status page is up, and the leader, in its
	// log (on stdout too), when it starts ticking.
	ready := regexp.MustCompile(`^replica (\w+): status page at (http://\S+/debug/mesh/)$`)
	leads := regexp.MustCompile(`msg="this replica leads: ticking".* replica=(\w+)`)
	var leading string
	for len(pages) < 3 || leading == "" {
		select {
		case line := <-lines:
			if m := ready.FindStringSubmatch(line); m != nil {
				pages[m[1]] = m[2]
			}
			if m := leads.FindStringSubmatch(line); m != nil {
				require.Empty(t, leading, "a second replica leads: %s", line)
				leading = m[1]
			}
		case <-time.After(30 * time.Second):
			t.Fatalf("within 30 s: %d of 3 replicas ready, leader %q", len(pages), leading)
		}
	}

	// The status pages say which replica leads.
	leaderRe := regexp.MustCompile(`^leader \(token \d+\)$`)
	var leaders, standbys []string
	for name, base := range pages {
		switch d := cronDetail(t, base); {
		case leaderRe.MatchString(d):
			leaders = append(leaders, name)
		case d == "standby":
			standbys = append(standbys, name)
		}
	}
	require.Equal(t, []string{leading}, leaders, "exactly one replica leads, and its page says so")
	assert.Len(t, standbys, 2)

	// The leader ticks: its fenced writes reach etcd.
	c, err := clientv3.New(clientv3.Config{Endpoints: []string{endpoint}, Logger: zap.NewNop()})
	require.NoError(t, err)
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ticks := c.Watch(ctx, prefix+"last-tick")
	select {
	case resp := <-ticks:
		require.NoError(t, resp.Err())
		require.NotEmpty(t, resp.Events)
		assert.True(t, strings.HasPrefix(string(resp.Events[0].Kv.Value), leaders[0]+" at "), "a tick of the leader: %s", resp.Events[0].Kv.Value)
	case <-ctx.Done():
		t.Fatal("no tick within 10 s")
	}
	cancel()

	for _, p := range procs {
		require.NoError(t, p.Process.Signal(syscall.SIGTERM))
	}
	for _, p := range procs {
		assert.NoError(t, p.Wait(), "a replica stopped by SIGTERM exits 0")
	}
}

// A write fenced with an older token than one already written is refused.
func TestFencedPutRefusesAnOlderToken(t *testing.T) {
	endpoint := etcdtest.Start(t)
	c, err := clientv3.New(clientv3.Config{Endpoints: []string{endpoint}, Logger: zap.NewNop()})
	require.NoError(t, err)
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, tc := range []struct {
		token int64
		want  bool
	}{{5, true}, {5, true}, {3, false}, {40, true}, {7, false}} {
		ok, err := fencedPut(ctx, c, tc.token, "/fenced/key", fmt.Sprint("by ", tc.token))
		require.NoError(t, err)
		assert.Equal(t, tc.want, ok, "token %d", tc.token)
	}
	got, err := c.Get(ctx, "/fenced/key")
	require.NoError(t, err)
	assert.Equal(t, "by 40", string(got.Kvs[0].Value))
}

package leader_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gravestench/servicemesh"
	"github.com/gravestench/servicemesh/leader"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
)

// childEnv, set to "endpoint prefix", makes the test binary a replica
// (runChild) instead of running the tests: the SIGKILL test starts it as
// a child process.
const childEnv = "LEADER_TEST_CHILD_REPLICA"

// runChild runs one replica against the etcd named by childEnv, writes
// "serving <token>" to stdout when it leads, and runs until killed.
func runChild() int {
	endpoint, prefix, _ := strings.Cut(os.Getenv(childEnv), " ")
	c, err := clientv3.New(clientv3.Config{Endpoints: []string{endpoint}, DialTimeout: 5 * time.Second, Logger: zap.NewNop()})
	if err != nil {
		fmt.Fprintln(os.Stderr, "child replica:", err)
		return 2
	}
	m := servicemesh.New("child")
	m.SetLogDestination(os.Stderr)
	m.Add(leader.Singleton(servicemesh.Func("cron", func(ctx context.Context) error {
		token, _ := leader.TokenFrom(ctx)
		fmt.Printf("serving %d\n", token)
		<-ctx.Done()
		return nil
	}), leader.Etcd(c, prefix, leader.WithTTL(testTTL))))
	m.Run()
	return 0
}

func TestKilledLeaderProcessReplacedWithinTTL(t *testing.T) {
	endpoint := startEtcd(t)
	const prefix = "/sigkill/"
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"="+endpoint+" "+prefix)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	killed := false
	t.Cleanup(func() {
		if !killed {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
	})
	lines := make(chan string, 1)
	go func() {
		defer close(lines)
		s := bufio.NewScanner(out)
		for s.Scan() {
			lines <- s.Text()
		}
	}()
	select {
	case line := <-lines:
		require.True(t, strings.HasPrefix(line, "serving "), "child said %q", line)
	case <-time.After(20 * time.Second):
		t.Fatal("the child replica did not lead within 20 s")
	}

	// A replica in this process campaigns; its election key appearing
	// shows that it waits for the child's.
	watcher := newClient(t, endpoint)
	wctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	keys := watcher.Watch(wctx, prefix, clientv3.WithPrefix(), clientv3.WithFilterDelete())
	tr := newTracker()
	local := newReplica(t, "local", endpoint, prefix, &job{replica: "local", tr: tr})
	select {
	case <-keys:
	case <-time.After(10 * time.Second):
		t.Fatal("the local replica did not campaign within 10 s")
	}
	ttl := grantedTTL(t, local.client)

	require.NoError(t, cmd.Process.Signal(syscall.SIGKILL))
	killedAt := time.Now()
	killed = true
	_ = cmd.Wait()
	for range lines { // the child's stdout is closed: the reader is done
	}
	x := next(t, tr.started, ttl+5*time.Second, "the local replica taking over")
	took := x.start.Sub(killedAt)
	t.Logf("took over from the killed child in %v (TTL %v)", took, ttl)
	assert.LessOrEqual(t, took, ttl+time.Second)
}

package leader

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func TestWithTTLRoundsUpToWholeSecondsAtLeastOne(t *testing.T) {
	for _, tc := range []struct {
		in   time.Duration
		want time.Duration // in seconds
	}{
		{-time.Second, 1}, {0, 1}, {time.Nanosecond, 1}, {time.Second, 1},
		{1500 * time.Millisecond, 2}, {10 * time.Second, 10},
	} {
		e := &etcdElector{}
		WithTTL(tc.in)(e)
		assert.Equal(t, tc.want, e.ttl, "WithTTL(%v)", tc.in)
	}
	assert.Equal(t, defaultTTL/time.Second, Etcd(nil, "/p/").(*etcdElector).ttl, "default")
}

func TestTermEndsAQuarterTTLBeforeTheLeaseCanExpire(t *testing.T) {
	sent := time.Now()
	assert.Equal(t, sent.Add(3*time.Second), termEnd(sent, 4*time.Second))
	assert.Equal(t, sent.Add(750*time.Millisecond), termEnd(sent, time.Second))
}

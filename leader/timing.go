package leader

import "time"

// The timing constants of the package, each with the reason for its value.
const (
	// defaultTTL is the lease TTL asked for without WithTTL: long enough
	// that a garbage-collection pause or a slow link does not end a term,
	// short enough that a crashed leader is replaced within seconds (§11).
	defaultTTL = 10 * time.Second

	// renewalsPerTTL is how many keep-alives a leader sends per TTL. A term
	// ends three quarters of a TTL after the last answered keep-alive was
	// sent, so with six per TTL four may be lost or late before it ends.
	renewalsPerTTL = 6

	// retryDelay is the pause between two tries of a keep-alive that
	// failed without the lease being gone (a connection being re-made): short,
	// because the term's end is near.
	retryDelay = 50 * time.Millisecond

	// cleanupTimeout bounds giving a lease back after a campaign that
	// failed or was canceled: the lease expires on its own anyway, and a
	// shutdown must not wait for an etcd that cannot be reached.
	cleanupTimeout = 2 * time.Second

	// campaignBackoff and maxCampaignBackoff are the first and the longest
	// wait of a Singleton between two campaigns that failed (etcd out of
	// reach): doubling, so that replicas cut off from etcd do not hammer
	// it when it comes back, and capped so that one comes back to
	// campaigning within seconds.
	campaignBackoff    = 100 * time.Millisecond
	maxCampaignBackoff = 5 * time.Second
)

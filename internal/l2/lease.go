package l2

import (
	"context"
	"crypto/rand"
	"errors"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// One origin fetch per object across the fleet: a replica that misses a key in both
// tiers takes a short lease on it (SET cp:lease:{gen}:{key} token NX PX LeaseTime)
// before it fetches. The other replicas missing it meanwhile find the lease taken
// and wait for the holder's entry to appear instead of all going to the origin. The
// holder releases the lease once its entry was written (or the fill failed), so a
// waiter that sees the lease gone without an entry fetches at once. No wait is
// unbounded: a lease expires by itself after LeaseTime (its holder died, or its
// origin is slower than that), and a Redis call that does not answer within
// Timeout ends the wait; either way the waiter then fetches itself.

const (
	defaultLeaseTime = 3 * time.Second
	leasePrefix      = "cp:lease:" // then the generation, ":" and the proxy key, as redisKey does
	firstPoll        = 5 * time.Millisecond
	maxPoll          = 50 * time.Millisecond
)

// leaseKey names the fill lease of key in generation gen. It cannot collide with an
// entry ("cp:" and a number) or with cp:gen.
func leaseKey(gen int64, key string) string {
	return leasePrefix + redisKey(gen, key)[len(keyPrefix):]
}

// lease is one this replica holds.
type lease struct {
	key   string // Redis key of the lease
	token string // what only this holder wrote
	once  sync.Once
}

// releaseLease deletes a lease if it is still the holder's; it returns 0 when the
// lease had expired (or been taken by another replica since).
var releaseLease = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0`)

// Lease coordinates a fill of key with the other replicas. When this replica gets
// the lease (or Redis cannot say), filled is false: the caller fetches from the
// origin and calls release once its entry was handed to Set, or the fill failed.
// When another replica holds it, Lease waits until that replica's entry is in the
// tier (filled is true: the caller looks key up again), or the lease is gone
// without one, or ctx ends, or LeaseTime passed (filled is false: the caller
// fetches). release is never nil, and calling it more than once is harmless.
func (t *Tier) Lease(ctx context.Context, key string) (release func(), filled bool) {
	noop := func() {}
	gen := t.gen.load()
	lk, rk := leaseKey(gen, key), redisKey(gen, key)
	cctx, cancel := context.WithTimeout(ctx, t.opt.Timeout)
	defer cancel()
	n, ok := t.usableFor(cctx, lk)
	if _, entryOK := t.usableFor(cctx, rk); !ok || !entryOK {
		return noop, false // no lease, or no entry to wait for, can be had: fetch
	}
	l := &lease{key: lk, token: rand.Text()}
	release = func() { l.once.Do(func() { t.queueRelease(l) }) }
	// The entry is looked for in the same round trip: another replica may have
	// filled it and released its lease since this one's lookup missed.
	var set *redis.BoolCmd
	var filledNow *redis.IntCmd
	_, err := t.rdb.Pipelined(cctx, func(p redis.Pipeliner) error {
		set = p.SetNX(cctx, lk, l.token, t.opt.LeaseTime)
		filledNow = p.Exists(cctx, rk)
		return nil
	})
	if err != nil && !isReply(err) {
		n.fail(err)
		if set.Err() == nil && set.Val() {
			return release, false
		}
		return noop, false
	}
	n.answered()
	switch {
	case set.Err() != nil:
		return noop, false
	case set.Val() && filledNow.Err() == nil && filledNow.Val() == 1:
		release()
		return noop, true
	case set.Val():
		return release, false
	case filledNow.Err() == nil && filledNow.Val() == 1:
		return noop, true // the holder's entry is there already
	}
	return noop, t.awaitFill(ctx, rk, lk)
}

// awaitFill polls, with growing pauses, until the entry rk exists, or the lease lk
// is gone, or the lease's longest life has passed; it reports whether the entry is there.
func (t *Tier) awaitFill(ctx context.Context, rk, lk string) bool {
	deadline := time.Now().Add(t.opt.LeaseTime)
	pause := firstPoll
	for {
		timer := time.NewTimer(pause)
		select {
		case <-ctx.Done():
			timer.Stop()
			return false
		case <-t.ctx.Done():
			timer.Stop()
			return false
		case <-timer.C:
		}
		pause = min(2*pause, maxPoll)
		entry, leased, err := t.exists(ctx, rk, lk)
		switch {
		case err != nil:
			return false
		case entry:
			return true
		case !leased: // released without an entry, or expired: one last look
			entry, _, err := t.exists(ctx, rk, "")
			return err == nil && entry
		case time.Now().After(deadline):
			return false
		}
	}
}

// exists reports whether the keys rk and lk (when not "") exist, in one pipeline.
// The keys may live on different masters: a pipeline, not a transaction.
func (t *Tier) exists(ctx context.Context, rk, lk string) (entry, leased bool, err error) {
	ctx, cancel := context.WithTimeout(ctx, t.opt.Timeout)
	defer cancel()
	n, ok := t.usableFor(ctx, rk)
	if !ok {
		return false, false, errors.New("l2: the entry's server is down")
	}
	var e, l *redis.IntCmd
	_, err = t.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		e = p.Exists(ctx, rk)
		if lk != "" {
			l = p.Exists(ctx, lk)
		}
		return nil
	})
	if err != nil {
		n.fail(err)
		return false, false, err
	}
	n.answered()
	return e.Val() == 1, l != nil && l.Val() == 1, nil
}

// queueRelease queues the release behind the writes already queued (the fill's
// SET among them); when the queue is full it goes at once.
func (t *Tier) queueRelease(l *lease) {
	if t.ctx.Err() != nil {
		return // the lease expires by itself
	}
	o := op{lease: l}
	select {
	case t.queue <- o:
	default:
		go t.write([]op{o})
	}
}

// releaseLeases deletes the leases the write worker was handed, in one pipeline.
func (t *Tier) releaseLeases(ctx context.Context, leases []*lease) {
	if len(leases) == 0 {
		return
	}
	cmds, _ := t.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for _, l := range leases {
			releaseLease.Eval(ctx, p, []string{l.key}, l.token) // EVALSHA cannot fall back inside a pipeline
		}
		return nil
	})
	expired := 0
	for _, c := range cmds {
		switch v, err := c.(*redis.Cmd).Int64(); {
		case err != nil:
			t.opt.Errors.Inc() // it expires by itself
		case v == 0:
			expired++
		}
	}
	if expired > 0 {
		t.opt.LeaseExpired.Add(float64(expired))
		t.log.Info("shared cache tier: fill leases expired before their fill was written: the origin took longer than the lease, so other replicas may have fetched too",
			"leases", expired, "lease_time", t.opt.LeaseTime.String())
	}
}

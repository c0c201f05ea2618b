package l2

import (
	"context"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

const (
	minBackoff = 100 * time.Millisecond // between attempts to subscribe again
	maxBackoff = 2 * time.Second
)

// listen keeps a subscription to cp:events and acts on what arrives. Pub/sub is
// at most once: a message published while the subscription was broken is lost.
// So each time the subscription is made, anything local may be stale: the
// generation is read again and every local copy dropped (OnClear).
func (t *Tier) listen() {
	defer t.wg.Done()
	backoff := minBackoff
	for attempt := 0; t.ctx.Err() == nil; attempt++ {
		ps := t.subscribe(attempt) // an error here shows in receive
		t.ps.Store(ps)
		if t.ctx.Err() != nil { // Close ran before Store
			_ = ps.Close()
			return
		}
		ok, err := t.receive(ps)
		_ = ps.Close()
		if t.ctx.Err() != nil {
			return
		}
		if t.subscribed.Swap(false) {
			t.lostSub.Store(true)
			t.log.Warn("shared cache tier: lost the invalidation channel; subscribing again", "err", err)
		}
		if ok {
			backoff, attempt = minBackoff, -1
		}
		select {
		case <-t.ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, maxBackoff)
	}
}

// subscribe subscribes to cp:events. A cluster sends every PUBLISH to every node,
// so any master will do: the first attempt goes where go-redis puts the channel (the
// master of its slot), and when that fails the next attempts go round the other
// masters, so one master down does not leave the replica deaf. The subscription is
// classic SUBSCRIBE, never sharded SSUBSCRIBE (go-redis's loses messages around
// reconnects).
func (t *Tier) subscribe(attempt int) *redis.PubSub {
	if t.mode == cluster && attempt > 0 {
		ctx, cancel := context.WithTimeout(t.ctx, t.opt.Timeout)
		masters := t.masters(ctx)
		cancel()
		if len(masters) > 0 {
			return masters[attempt%len(masters)].Subscribe(t.ctx, eventsChannel)
		}
	}
	return t.rdb.Subscribe(t.ctx, eventsChannel)
}

// masters returns a client for each master of the cluster, in address order; none
// when not in a cluster or when its slot map cannot be had.
func (t *Tier) masters(ctx context.Context) []*redis.Client {
	cc, ok := t.rdb.(*redis.ClusterClient)
	if !ok {
		return nil
	}
	var (
		mu sync.Mutex
		cs []*redis.Client
	)
	_ = cc.ForEachMaster(ctx, func(_ context.Context, c *redis.Client) error {
		mu.Lock()
		cs = append(cs, c)
		mu.Unlock()
		return nil
	})
	slices.SortFunc(cs, func(a, b *redis.Client) int { return strings.Compare(a.Options().Addr, b.Options().Addr) })
	return cs
}

// receive handles messages until the subscription fails; ok reports whether it
// was ever established. A quiet channel is pinged, so a connection that died
// without a word is noticed within 2*pingEvery.
func (t *Tier) receive(ps *redis.PubSub) (ok bool, err error) {
	pinged := false
	for {
		msg, err := ps.ReceiveTimeout(t.ctx, pingEvery)
		if err != nil {
			if !isTimeout(err) || pinged || t.ctx.Err() != nil {
				return ok, err
			}
			if err := ps.Ping(t.ctx); err != nil {
				return ok, err
			}
			pinged = true
			continue
		}
		pinged = false
		switch m := msg.(type) {
		case *redis.Subscription:
			if m.Kind == "subscribe" && m.Channel == eventsChannel {
				ok = true
				t.subscribedAgain()
			}
		case *redis.Message:
			t.handle(m.Payload)
		}
	}
}

// subscribedAgain catches up on what may have been missed while not subscribed.
func (t *Tier) subscribedAgain() {
	if !t.subscribed.Swap(true) {
		level := slog.LevelDebug
		if t.lostSub.Load() {
			level = slog.LevelInfo
		}
		t.log.Log(t.ctx, level, "shared cache tier: listening for invalidations; local copies dropped")
	}
	ctx, cancel := context.WithTimeout(t.ctx, t.opt.Timeout)
	t.refresh(ctx)
	cancel()
	t.opt.OnClear()
	t.listenOnce.Do(func() { close(t.listening) })
}

// handle acts on one event. One it cannot read (from a newer version, say) is ignored.
func (t *Tier) handle(payload string) {
	if t.handlePurge(payload) {
		return
	}
	ev, err := decodeEvent(payload)
	switch {
	case err != nil:
		t.log.Debug("shared cache tier: ignoring an event", "err", err)
	case ev.clear:
		// Two clears may publish out of order: the generation only moves forward,
		// and cp:gen is read too.
		t.gen.advance(ev.gen)
		ctx, cancel := context.WithTimeout(t.ctx, t.opt.Timeout)
		_, _ = t.refresh(ctx)
		cancel()
		t.opt.OnClear()
	default:
		t.opt.OnInvalidate(ev.keys)
	}
}

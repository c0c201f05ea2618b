package l2

import (
	"context"
	"log/slog"
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
	for t.ctx.Err() == nil {
		ps := t.rdb.Subscribe(t.ctx, eventsChannel) // an error here shows in receive
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
			backoff = minBackoff
		}
		select {
		case <-t.ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, maxBackoff)
	}
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
	ev, err := decodeEvent(payload)
	switch {
	case err != nil:
		t.log.Debug("shared cache tier: ignoring an event", "err", err)
	case ev.clear:
		// Read cp:gen rather than trust ev.gen: two clears may publish out of order.
		ctx, cancel := context.WithTimeout(t.ctx, t.opt.Timeout)
		if _, err := t.refresh(ctx); err != nil {
			t.gen.set(ev.gen)
		}
		cancel()
		t.opt.OnClear()
	default:
		t.opt.OnInvalidate(ev.keys)
	}
}

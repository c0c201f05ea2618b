package l2

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// Get returns the value stored under key in the current generation. Every failure
// is a miss; while the tier is down Redis is not asked at all.
func (t *Tier) Get(key string) ([]byte, bool) {
	if !t.up() || t.ctx.Err() != nil {
		t.opt.Misses.Inc()
		return nil, false
	}
	ctx, cancel := context.WithTimeout(t.ctx, t.opt.Timeout)
	defer cancel()
	b, err := t.rdb.Get(ctx, redisKey(t.gen.load(), key)).Bytes()
	switch {
	case errors.Is(err, redis.Nil):
		t.answered()
		t.opt.Misses.Inc()
		return nil, false
	case err != nil:
		t.fail(err)
		return nil, false
	}
	t.answered()
	v, ok := unframe(key, b)
	if !ok { // another key with the same hash: as good as absent
		t.opt.Misses.Inc()
		return nil, false
	}
	t.opt.Hits.Inc()
	return v, true
}

// Set stores value under key for retention (PX), in the background: the write is
// queued, and dropped when the queue is full (queueSize writes or queueBytes) or
// the tier is down. The generation is
// the one current now, so a write that lands after a clear stays unreachable.
func (t *Tier) Set(key string, value []byte, retention time.Duration) {
	if retention < time.Millisecond || !t.up() || t.ctx.Err() != nil {
		return
	}
	o := op{key: redisKey(t.gen.load(), key), value: frame(key, value), ttl: retention}
	if t.queued.Add(int64(len(o.value))) > queueBytes {
		t.queued.Add(-int64(len(o.value)))
		return // Redis is not keeping up; the entry stays in the local store
	}
	select {
	case t.queue <- o:
	default:
		t.queued.Add(-int64(len(o.value)))
	}
}

// Del deletes keys from the tier and announces them on cp:events, so every replica
// drops its local copies (OnInvalidate). It waits at most Timeout: the DEL goes
// through the write queue, behind the SETs already queued, so an older response
// cannot land after it. While the tier is down the keys are remembered, and deleted
// and announced once Redis answers again.
func (t *Tier) Del(keys ...string) {
	if len(keys) == 0 || t.ctx.Err() != nil {
		return
	}
	if !t.up() {
		t.pending.add(keys)
		return
	}
	o := op{del: keys, gen: t.gen.load(), done: make(chan struct{})}
	select {
	case t.queue <- o:
	default: // full of SETs: go around them rather than lose the invalidation
		go t.write([]op{o})
	}
	timer := time.NewTimer(t.opt.Timeout)
	defer timer.Stop()
	select {
	case <-o.done:
	case <-timer.C:
	}
}

// Clear empties the tier for every replica: it INCRs cp:gen, which makes every key
// written so far unreachable (each expires by its TTL), and publishes a clear event
// so every replica, this one too, drops its local copies (OnClear). A replica that
// misses the event sees the new generation at its next refresh. When Redis does not
// answer, the clear is done once it does, and the error says so.
func (t *Tier) Clear() error {
	ctx, cancel := context.WithTimeout(t.ctx, t.writeTimeout)
	defer cancel()
	gen, err := t.rdb.Incr(ctx, genKey).Result()
	if err != nil {
		t.fail(err)
		t.pending.clearLater()
		return fmt.Errorf("l2: clear (retried when Redis answers): %w", err)
	}
	t.answered()
	t.gen.set(gen)
	if err := t.rdb.Publish(ctx, eventsChannel, encodeClear(gen)).Err(); err != nil {
		t.fail(err)
		return fmt.Errorf("l2: clear: announcing generation %d (replicas see it within %v): %w", gen, refreshEvery, err)
	}
	return nil
}

// Wait blocks until the writes queued before it were tried. Tests use it instead of sleeping.
func (t *Tier) Wait() {
	o := op{done: make(chan struct{})}
	select {
	case t.queue <- o:
	case <-t.ctx.Done():
		return
	}
	select {
	case <-o.done:
	case <-t.ctx.Done():
	}
}

// op is one queued write: a SET, a DEL with its announcement, or (neither) a
// marker for Wait. done, when set, is closed once the op was tried.
type op struct {
	key   string // Redis key of a SET
	value []byte
	ttl   time.Duration
	del   []string // proxy keys to invalidate
	gen   int64    // generation of the DEL
	done  chan struct{}
}

// work sends queued writes to Redis, up to batchSize of them or about batchBytes
// in one pipeline, so one pipeline fits in writeTimeout.
func (t *Tier) work() {
	defer t.wg.Done()
	batch := make([]op, 0, batchSize)
	for {
		select {
		case <-t.ctx.Done():
			return
		case o := <-t.queue:
			batch = append(batch[:0], o)
		}
		size := len(batch[0].value)
	more:
		for len(batch) < batchSize && size < batchBytes {
			select {
			case o := <-t.queue:
				batch = append(batch, o)
				size += len(o.value)
			default:
				break more
			}
		}
		t.write(batch)
	}
}

// write sends a batch in one pipeline. While the tier is down SETs are dropped and
// DELs remembered for later.
func (t *Tier) write(batch []op) {
	defer func() {
		for _, o := range batch {
			t.queued.Add(-int64(len(o.value)))
			if o.done != nil {
				close(o.done)
			}
		}
	}()
	if !slices.ContainsFunc(batch, func(o op) bool { return o.del != nil || o.key != "" }) {
		return // only Wait markers
	}
	if !t.up() {
		t.rememberDels(batch)
		return
	}
	ctx, cancel := context.WithTimeout(t.ctx, t.writeTimeout)
	defer cancel()
	cmds, err := t.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for _, o := range batch {
			switch {
			case o.del != nil:
				rk := make([]string, len(o.del))
				for i, k := range o.del {
					rk[i] = redisKey(o.gen, k)
				}
				p.Del(ctx, rk...)
				p.Publish(ctx, eventsChannel, encodeInvalidate(o.del))
			case o.key != "":
				p.Set(ctx, o.key, o.value, o.ttl)
			}
		}
		return nil
	})
	if t.ctx.Err() != nil {
		return
	}
	if err == nil {
		t.answered()
		return
	}
	if !isReply(err) { // nothing is known to have arrived
		t.rememberDels(batch)
		t.fail(err)
		return
	}
	for _, c := range cmds { // some commands were refused (OOM on a SET, say)
		if c.Err() != nil {
			t.opt.Errors.Inc()
		}
	}
}

func (t *Tier) rememberDels(batch []op) {
	for _, o := range batch {
		if o.del != nil {
			t.pending.add(o.del)
		}
	}
}

// pending is what could not reach Redis while it was down, done once it answers:
// invalidations (up to maxPending keys; past that, entries live out their TTLs)
// and a clear, which makes the invalidations moot.
type pending struct {
	mu    sync.Mutex
	keys  map[string]struct{}
	clear bool
	lost  int // invalidations beyond maxPending
}

func (p *pending) add(keys []string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.clear {
		return
	}
	if p.keys == nil {
		p.keys = make(map[string]struct{})
	}
	for _, k := range keys {
		if len(p.keys) >= maxPending {
			p.lost++
			continue
		}
		p.keys[k] = struct{}{}
	}
}

func (p *pending) clearLater() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.clear, p.keys, p.lost = true, nil, 0
}

func (p *pending) any() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.clear || len(p.keys) > 0 || p.lost > 0
}

// take returns what is pending and forgets it.
func (p *pending) take() (keys []string, clear bool, lost int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for k := range p.keys {
		keys = append(keys, k)
	}
	clear, lost = p.clear, p.lost
	p.keys, p.clear, p.lost = nil, false, 0
	return keys, clear, lost
}

// replay does what pending holds; refresh calls it once Redis answers.
func (t *Tier) replay() {
	keys, clear, lost := t.pending.take()
	if lost > 0 {
		t.log.Warn("shared cache tier: invalidations made while Redis was down were too many to remember; those entries live out their TTLs",
			"remembered", len(keys), "lost", lost)
	}
	switch {
	case clear:
		if err := t.Clear(); err != nil {
			t.log.Warn("shared cache tier: clear requested while Redis was down failed again", "err", err)
			return
		}
		t.log.Info("shared cache tier: cleared, as requested while Redis was down")
	case len(keys) > 0:
		t.write([]op{{del: keys, gen: t.gen.load()}})
	}
}

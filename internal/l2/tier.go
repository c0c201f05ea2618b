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
// is a miss, and so is a value that does not decode; while the server holding key
// is down it is not asked at all.
func (t *Tier) Get(key string) ([]byte, bool) {
	ctx, cancel := context.WithTimeout(t.ctx, t.opt.Timeout)
	defer cancel()
	rk := redisKey(t.gen.load(), key)
	n, ok := t.usableFor(ctx, rk)
	if !ok {
		t.opt.Misses.Inc()
		return nil, false
	}
	b, err := t.rdb.Get(ctx, rk).Bytes()
	switch {
	case errors.Is(err, redis.Nil):
		n.answered()
		t.opt.Misses.Inc()
		return nil, false
	case err != nil:
		n.fail(err)
		return nil, false
	}
	n.answered()
	v, ok := unframe(key, b)
	if !ok { // another key with the same hash: as good as absent
		t.opt.Misses.Inc()
		return nil, false
	}
	v, err = t.codec.decode(v)
	if err != nil { // corrupt, hostile, too large or from a newer version
		t.log.Debug("shared cache tier: a stored value does not decode; a miss", "err", err)
		t.opt.Misses.Inc()
		return nil, false
	}
	t.opt.Hits.Inc()
	return v, true
}

// Set stores value under key for retention (PX), in the background: the write is
// queued, and dropped when the queue is full (queueSize writes or queueBytes) or
// the tier is down. compress says whether value may be worth compressing (the
// caller knows whether it is already compressed); small values never are. The
// generation is the one current now, so a write that lands after a clear stays
// unreachable.
func (t *Tier) Set(key string, value []byte, retention time.Duration, compress bool) {
	if retention < time.Millisecond || !t.usable() {
		return
	}
	o := op{key: key, rkey: redisKey(t.gen.load(), key), value: value, compress: compress, ttl: retention}
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
// drops its local copies (OnInvalidate). It waits at most Timeout: the DELs go
// through the write queue, behind the SETs already queued, so an older response
// cannot land after them. Keys whose server is down (all of them, while the tier
// is) are remembered, and deleted and announced once it answers again.
func (t *Tier) Del(keys ...string) {
	if len(keys) == 0 || t.ctx.Err() != nil {
		return
	}
	if !t.usable() {
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
	n := t.nodes.of(ctx, genKey)
	gen, err := clearGen.Run(ctx, t.rdb, []string{genKey}, t.gen.load()).Int64()
	if err != nil {
		n.fail(err)
		t.pending.clearLater()
		return fmt.Errorf("l2: clear (retried when Redis answers): %w", err)
	}
	n.answered()
	t.gen.advance(gen)
	if err := t.publish(ctx, encodeClear(gen)); err != nil {
		t.opt.Errors.Inc()
		return fmt.Errorf("l2: clear: announcing generation %d (replicas see it within %v): %w", gen, refreshEvery, err)
	}
	return nil
}

// publish sends an event on cp:events. A cluster forwards a PUBLISH to every node,
// so any master will do: when one does not answer, another is tried.
func (t *Tier) publish(ctx context.Context, msg string) error {
	err := t.rdb.Publish(ctx, eventsChannel, msg).Err()
	if err == nil || t.mode != cluster || ctx.Err() != nil {
		return err
	}
	for _, c := range t.masters(ctx) {
		if err = c.Publish(ctx, eventsChannel, msg).Err(); err == nil {
			return nil
		}
	}
	return err
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

// op is one queued write: a SET, a DEL with its announcement, the release of a
// fill lease, or (none of these) a marker for Wait. done, when set, is closed once
// the op was tried.
type op struct {
	key      string // proxy key of a SET
	rkey     string // its Redis key
	value    []byte // as the proxy gave it: encoded (compressed) by the worker
	compress bool
	ttl      time.Duration
	del      []string // proxy keys to invalidate
	gen      int64    // generation of the DEL
	lease    *lease   // to release once the SETs before it landed
	done     chan struct{}
	sets     []setAdd // tag and URL set members to add (purge.go)
	quiet    []string // proxy keys to DEL in generation gen without announcing (purge.go)
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

// write sends a batch in one pipeline: one key per command, so a cluster client can
// send each to the master of its slot. Writes to a server that is down are dropped
// and its DELs remembered for later. Lease releases go in a second pipeline, once
// the SETs before them have landed, so a replica waiting for the lease finds the
// entry when the lease is gone.
func (t *Tier) write(batch []op) {
	defer func() {
		for _, o := range batch {
			t.queued.Add(-int64(len(o.value)))
			if o.done != nil {
				close(o.done)
			}
		}
	}()
	if !slices.ContainsFunc(batch, func(o op) bool {
		return o.del != nil || o.key != "" || o.lease != nil || o.sets != nil || o.quiet != nil
	}) {
		return // only Wait markers
	}
	if !t.usable() {
		t.rememberDels(batch)
		return
	}
	ctx, cancel := context.WithTimeout(t.ctx, t.writeTimeout)
	defer cancel()
	var (
		what   []sent // what each command was, in order
		leases []*lease
	)
	cmds, _ := t.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for _, o := range batch {
			switch {
			case o.del != nil:
				for _, k := range o.del {
					rk := redisKey(o.gen, k)
					if n, ok := t.usableFor(ctx, rk); !ok {
						t.pending.add([]string{k})
					} else {
						p.Del(ctx, rk)
						what = append(what, sent{node: n, del: k})
					}
				}
				p.Publish(ctx, eventsChannel, encodeInvalidate(o.del))
				what = append(what, sent{event: o.del})
			case o.key != "":
				n, ok := t.usableFor(ctx, o.rkey)
				if !ok {
					continue // dropped: the entry stays in the local store
				}
				p.Set(ctx, o.rkey, frame(o.key, t.codec.encode(o.value, o.compress)), o.ttl)
				what = append(what, sent{node: n})
			case o.lease != nil:
				leases = append(leases, o.lease)
			case o.sets != nil || o.quiet != nil:
				what = t.writeIndex(ctx, p, o, what)
			}
		}
		return nil
	})
	if t.ctx.Err() != nil {
		return
	}
	t.judgeWrites(cmds, what)
	t.releaseLeases(ctx, leases)
}

// sent is what one command of a write pipeline was.
type sent struct {
	node  *node    // the server it went to; nil for a PUBLISH
	del   string   // the proxy key of a DEL
	event []string // the keys a PUBLISH announced
}

// judgeWrites counts what a pipeline's commands met: each node that failed to
// answer fails once, each that answered is up, and an invalidation that may not
// have arrived (its DEL or its announcement) is remembered, to be sent again.
func (t *Tier) judgeWrites(cmds []redis.Cmder, sent []sent) {
	failed := map[*node]error{}
	for i, c := range cmds {
		if i >= len(sent) {
			break
		}
		s, err := sent[i], c.Err()
		if err == nil || isReply(err) { // refused (OOM on a SET, say): an answer all the same
			if err != nil {
				t.opt.Errors.Inc()
			}
			continue
		}
		switch {
		case s.node == nil: // an announcement nobody heard
			t.opt.Errors.Inc()
			t.pending.add(s.event)
		default:
			failed[s.node] = err
			if s.del != "" {
				t.pending.add([]string{s.del})
			}
		}
	}
	judged := map[*node]bool{}
	for _, s := range sent {
		if s.node == nil || judged[s.node] {
			continue
		}
		judged[s.node] = true
		if err, bad := failed[s.node]; bad {
			s.node.fail(err) // once per pipeline, however many of its commands failed
		} else {
			s.node.answered()
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

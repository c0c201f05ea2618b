package l2

import (
	"context"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/redis/go-redis/v9"
)

// A node is one Redis server as the tier judges it. Failures are judged per call and
// per node, never by one breaker for the whole tier: a node goes down after
// downAfter calls in a row that it did not answer (refused, reset, timed out; an
// error reply such as OOM is an answer), and comes up when the once-a-second probe
// gets an answer. While it is down its keys are misses without asking it, so a dead
// or hung server costs the requests that meet it in its first moments up to Timeout
// each, then nothing.
//
// A single server, or the master Sentinel points at, is the only node. In a cluster
// each master is a node, so a master that stops answering makes misses of its own
// slots only; the cluster as a whole (its slot map cannot be had) is one more.
type node struct {
	t        *Tier
	addr     string        // "" for the only node
	client   redis.Cmdable // what the probe PINGs
	failures atomic.Int32  // calls failed in a row
	down     atomic.Bool
}

// nodes are the servers the tier has met.
type nodes struct {
	t    *Tier
	only *node // single or sentinel: the server; cluster: the cluster as a whole
	mu   sync.Mutex
	m    map[string]*node // cluster masters by address
}

func (ns *nodes) init(t *Tier) {
	ns.t = t
	ns.only = &node{t: t, client: t.rdb}
	ns.m = map[string]*node{}
}

// of returns the node that holds Redis key rk.
func (ns *nodes) of(ctx context.Context, rk string) *node {
	cc, ok := ns.t.rdb.(*redis.ClusterClient)
	if !ok {
		return ns.only
	}
	c, err := cc.MasterForKey(ctx, rk) // from go-redis's cached slot map
	if err != nil {
		return ns.only
	}
	addr := c.Options().Addr
	ns.mu.Lock()
	defer ns.mu.Unlock()
	n := ns.m[addr]
	if n == nil {
		n = &node{t: ns.t, addr: addr, client: c}
		ns.m[addr] = n
	}
	return n
}

// downNodes returns the cluster masters that are down now, in address order.
func (ns *nodes) downNodes() []*node {
	ns.mu.Lock()
	defer ns.mu.Unlock()
	var down []*node
	for _, n := range ns.m {
		if n.down.Load() {
			down = append(down, n)
		}
	}
	slices.SortFunc(down, func(a, b *node) int { return strings.Compare(a.addr, b.addr) })
	return down
}

// anyUp reports whether some server answers: the tier is of use at all.
func (ns *nodes) anyUp() bool {
	if ns.only.down.Load() {
		return false
	}
	ns.mu.Lock()
	defer ns.mu.Unlock()
	if len(ns.m) == 0 {
		return true
	}
	for _, n := range ns.m {
		if !n.down.Load() {
			return true
		}
	}
	return false
}

// fail counts a failed call on n; downAfter in a row that got no answer take it down.
func (n *node) fail(err error) {
	if n.t.ctx.Err() != nil {
		return // closing: not Redis's fault
	}
	n.t.opt.Errors.Inc()
	if !isReply(err) && n.failures.Add(1) >= downAfter {
		n.markDown(err)
	}
}

// answered records a call n answered, which brings it up if it was down.
func (n *node) answered() {
	n.failures.Store(0)
	wasDown := n.down.Swap(false)
	if wasDown && n.addr != "" {
		n.t.log.Info("shared cache tier: a Redis master answers again", "node", n.addr)
	}
	if wasDown || n.t.up.Load() != 1 {
		n.t.judge(nil)
	}
}

// markDown takes n down at once: its keys are misses until a probe succeeds.
func (n *node) markDown(err error) {
	if !n.down.Swap(true) && n.addr != "" {
		n.t.log.Warn("shared cache tier: a Redis master does not answer; its slots are misses until it does", "node", n.addr, "err", err)
	}
	n.t.judge(err)
}

// judge updates the tier's state from its nodes', logging a change once.
func (t *Tier) judge(err error) {
	t.judgeMu.Lock()
	defer t.judgeMu.Unlock()
	up := t.nodes.anyUp()
	if up == (t.up.Load() == 1) && t.judged {
		return
	}
	t.judged = true
	t.setUp(up)
	if up {
		t.log.Info("shared cache tier up")
	} else {
		t.log.Warn("shared cache tier down: lookups are misses until Redis answers", "err", err)
	}
}

// usableFor reports whether Redis key rk may be asked for now, and returns its node.
func (t *Tier) usableFor(ctx context.Context, rk string) (*node, bool) {
	if !t.usable() {
		return nil, false
	}
	n := t.nodes.of(ctx, rk)
	return n, !n.down.Load()
}

// probeDown PINGs each cluster master that is down, so one that answers again comes
// up, and the cluster as a whole when its slot map could not be had. (A single
// server's probe is refresh.)
func (t *Tier) probeDown(ctx context.Context) {
	down := t.nodes.downNodes()
	if t.mode == cluster && t.nodes.only.down.Load() {
		down = append(down, t.nodes.only)
	}
	for _, n := range down {
		if err := n.client.Ping(ctx).Err(); err == nil {
			n.answered()
		}
	}
}

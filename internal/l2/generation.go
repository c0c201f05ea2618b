package l2

import (
	"context"
	"errors"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// generation is this replica's copy of cp:gen, the number every Redis key of the
// tier carries. A clear INCRs it, which makes every older key unreachable at once
// (they expire by their TTLs); no KEYS or FLUSHDB is ever needed.
//
// The copy never moves backwards. cp:gen can be lost while entries of older
// generations live on: evicted under maxmemory, or its cluster master restarted
// empty while the other masters kept their keys. Going back to a lower number would
// make those entries, cleared long ago, reachable again. So a replica that finds
// cp:gen lower than its copy writes its copy back (raiseGen), and a clear never
// yields a number at or below what the clearing replica has seen (clearGen). Reads
// are lock-free; a read that was in flight while a newer value arrived (this
// replica's own clear) is lower, so it changes nothing.
type generation struct{ v atomic.Int64 }

func (g *generation) load() int64 { return g.v.Load() }

// advance stores v if it is higher than the copy, and reports whether it was.
func (g *generation) advance(v int64) bool {
	for {
		old := g.v.Load()
		if v <= old {
			return false
		}
		if g.v.CompareAndSwap(old, v) {
			return true
		}
	}
}

// raiseGen sets cp:gen to ARGV[1] when it is lower (or absent) and returns what it holds then.
var raiseGen = redis.NewScript(`
local cur = tonumber(redis.call('GET', KEYS[1]) or '0')
local floor = tonumber(ARGV[1])
if cur < floor then
  redis.call('SET', KEYS[1], floor)
  return floor
end
return cur`)

// clearGen INCRs cp:gen, going past ARGV[1] (the clearing replica's copy) if cp:gen was lost.
var clearGen = redis.NewScript(`
local n = redis.call('INCR', KEYS[1])
local floor = tonumber(ARGV[1])
if n <= floor then
  n = floor + 1
  redis.call('SET', KEYS[1], n)
end
return n`)

// refreshLoop re-reads the generation every refreshEvery, so a replica that missed a
// clear converges within a second, and a server that is down is noticed when it is back.
func (t *Tier) refreshLoop() {
	defer t.wg.Done()
	tick := time.NewTicker(refreshEvery)
	defer tick.Stop()
	for {
		select {
		case <-t.ctx.Done():
			return
		case <-tick.C:
			ctx, cancel := context.WithTimeout(t.ctx, t.opt.Timeout)
			changed, _ := t.refresh(ctx)
			t.probeDown(ctx)
			cancel()
			if changed { // a clear we did not hear of
				t.opt.OnClear()
			}
			if t.usable() && t.pending.any() {
				t.replay()
			}
		}
	}
}

// refresh reads cp:gen, and reports whether the generation changed. It is also the
// health probe of the server holding cp:gen (the only one, unless in a cluster):
// success brings it up, failure counts towards taking it down, even an error reply
// (LOADING, NOAUTH): a Redis that cannot GET is of no use.
func (t *Tier) refresh(ctx context.Context) (changed bool, err error) {
	n := t.nodes.of(ctx, genKey)
	gen, err := t.rdb.Get(ctx, genKey).Int64()
	if errors.Is(err, redis.Nil) {
		gen, err = 0, nil // never cleared, or lost
	}
	if err == nil && gen < t.gen.load() {
		gen, err = raiseGen.Run(ctx, t.rdb, []string{genKey}, t.gen.load()).Int64()
		if err == nil {
			t.log.Warn("shared cache tier: cp:gen was lower than this replica had seen (evicted, or its server restarted empty); put back",
				"generation", gen)
		}
	}
	if err != nil {
		if t.ctx.Err() == nil {
			t.opt.Errors.Inc()
			if n.failures.Add(1) >= downAfter {
				n.markDown(err)
			}
		}
		return false, err
	}
	changed = t.gen.advance(gen)
	t.ready.Store(true)
	n.answered()
	if t.pending.any() {
		t.replay()
	}
	return changed, nil
}

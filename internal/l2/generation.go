package l2

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// generation is this replica's copy of cp:gen, the number every Redis key of the
// tier carries. A clear INCRs it, which makes every older key unreachable at once
// (they expire by their TTLs); no KEYS or FLUSHDB is ever needed.
//
// The copy is what Redis last said, not the highest value seen: a Redis restarted
// empty starts again at 0. Reads are lock-free. A read of cp:gen that was in flight
// while a newer value arrived (this replica's own clear) is discarded, so a
// refresh never puts back the generation a clear just left.
type generation struct {
	v   atomic.Int64
	mu  sync.Mutex
	seq uint64 // bumped by every update
}

func (g *generation) load() int64 { return g.v.Load() }

// begin returns a ticket for a read of cp:gen about to start.
func (g *generation) begin() uint64 {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.seq
}

// finish stores v, read with ticket, unless the generation was updated since the
// read began. It reports whether the stored value changed.
func (g *generation) finish(ticket uint64, v int64) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.seq != ticket {
		return false
	}
	return g.store(v)
}

// set stores v, which outdates reads in progress. It reports whether the value changed.
func (g *generation) set(v int64) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.store(v)
}

func (g *generation) store(v int64) bool {
	g.seq++
	return g.v.Swap(v) != v
}

// refreshLoop re-reads the generation every refreshEvery, so a replica that missed a
// clear converges within a second, and a tier that is down notices Redis is back.
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
			cancel()
			if changed { // a clear we did not hear of
				t.opt.OnClear()
			}
		}
	}
}

// refresh reads cp:gen, and reports whether the generation changed. It is also the
// health probe: success brings the tier up, failure counts towards taking it down,
// even an error reply (LOADING, NOAUTH): a Redis that cannot GET is of no use.
func (t *Tier) refresh(ctx context.Context) (changed bool, err error) {
	ticket := t.gen.begin()
	gen, err := t.rdb.Get(ctx, genKey).Int64()
	if errors.Is(err, redis.Nil) {
		gen, err = 0, nil // never cleared, or Redis restarted empty
	}
	if err != nil {
		if t.ctx.Err() == nil {
			t.opt.Errors.Inc()
			if t.failures.Add(1) >= downAfter {
				t.markDown(err)
			}
		}
		return false, err
	}
	t.answered()
	changed = t.gen.finish(ticket, gen)
	if t.markUp() || t.pending.any() {
		t.replay()
	}
	return changed, nil
}

package proxy

import (
	"net/http"
	"sync"
	"time"

	"github.com/caching-proxy/caching-proxy/internal/metrics"
	"github.com/caching-proxy/caching-proxy/internal/policy"
)

// A flight is one origin fetch that concurrent requests for the same key wait for
// instead of each going to the origin (request coalescing).
type flight struct {
	done  chan struct{}
	once  sync.Once
	entry *entry // what the fetch stored; nil when it stored nothing
}

func (f *flight) finish(e *entry) {
	f.once.Do(func() {
		f.entry = e
		close(f.done)
	})
}

// flights tracks fetches in progress and keys recently found uncacheable.
type flights struct {
	mu       sync.Mutex
	inFlight map[string]*flight
	// hitForMiss remembers for a short time that a key's response was not storable,
	// so the next burst goes straight to the origin instead of queueing (as Varnish does).
	hitForMiss map[string]time.Time
}

const hitForMissTTL = 10 * time.Second

func (fs *flights) init() {
	fs.inFlight = map[string]*flight{}
	fs.hitForMiss = map[string]time.Time{}
}

// join returns the flight for key, and whether the caller leads it.
func (fs *flights) join(key string, now time.Time) (f *flight, leader bool) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	if until, ok := fs.hitForMiss[key]; ok {
		if now.Before(until) {
			return nil, false
		}
		delete(fs.hitForMiss, key)
	}
	if f := fs.inFlight[key]; f != nil {
		return f, false
	}
	f = &flight{done: make(chan struct{})}
	fs.inFlight[key] = f
	return f, true
}

// land removes a finished flight, remembering an uncacheable key for a while.
func (fs *flights) land(key string, f *flight, uncacheable bool, now time.Time) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	if fs.inFlight[key] == f {
		delete(fs.inFlight, key)
	}
	if uncacheable {
		if len(fs.hitForMiss) > 100_000 { // bound the memory an attacker can make us spend
			clear(fs.hitForMiss)
		}
		fs.hitForMiss[key] = now.Add(hitForMissTTL)
	}
}

// forget drops the hit-for-miss mark of key (its response became storable, or was invalidated).
func (fs *flights) forget(key string) {
	fs.mu.Lock()
	delete(fs.hitForMiss, key)
	fs.mu.Unlock()
}

// awaitFlight coalesces a miss: the first request for a key leads the fetch; the
// others wait for it and are served what it stored. It reports whether it answered.
func (h *Handler) awaitFlight(w http.ResponseWriter, r *http.Request, x *exchange) bool {
	f, leader := h.flights.join(x.key, x.now)
	switch {
	case f == nil: // recently uncacheable: go to the origin at once
		return false
	case leader:
		x.flight.Store(f)
		return false
	}
	sp := h.waitSpan(w, r)
	select {
	case <-f.done:
	case <-r.Context().Done():
		endWaitSpan(sp, "client left")
		return true // the client left; nothing to answer
	}
	endWaitSpan(sp, waitResult(f.entry != nil))
	if now := time.Now(); f.entry != nil && f.entry.matches(r.Header) && policy.Reuse(f.entry.fresh, x.req, now) == policy.Fresh {
		h.serve(w, r, f.entry, metrics.Hit, "; detail=coalesced", now)
		return true
	}
	return false // the fetch stored nothing we can use: fetch ourselves
}

// endFlight lands the flight x leads, handing e (nil when nothing was stored) to its
// waiters. A flight ends once; later calls do nothing.
func (h *Handler) endFlight(x *exchange, e *entry, uncacheable bool) {
	x.endLease()
	f := x.flight.Swap(nil)
	if f == nil {
		return
	}
	h.flights.land(x.key, f, uncacheable, time.Now())
	f.finish(e)
}

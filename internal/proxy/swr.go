package proxy

import (
	"context"
	"net/http"
	"time"

	"github.com/caching-proxy/caching-proxy/internal/metrics"
	"github.com/caching-proxy/caching-proxy/internal/policy"
)

// serveWhileRevalidating serves a stale entry at once when its stale-while-revalidate
// window allows (RFC 5861 §3), and refreshes it in the background, one refresh per key.
func (h *Handler) serveWhileRevalidating(w http.ResponseWriter, r *http.Request, x *exchange) bool {
	e := x.stored
	if x.req.NoCache || x.req.MaxAge >= 0 || x.req.MinFresh >= 0 || e.fresh.TTL(x.now) > 0 ||
		!e.fresh.StaleWithin(e.fresh.StaleRevalidate, x.now) {
		return false
	}
	h.serve(w, r, e, metrics.Stale, "; detail=stale-while-revalidate", x.now)
	f, leader := h.flights.join(x.key, x.now)
	if !leader || f == nil {
		return true // a refresh is already under way
	}
	bg := r.Clone(context.WithoutCancel(r.Context()))
	bx := &exchange{kind: passRevalidate, key: x.key, in: bg, req: policy.ParseRequest(http.Header{}), stored: e, now: time.Now(), background: true}
	bx.flight.Store(f)
	go h.forward(discard{header: http.Header{}}, bg, bx)
	return true
}

// discard is a ResponseWriter for background refreshes: the store is the only reader.
type discard struct{ header http.Header }

func (d discard) Header() http.Header         { return d.header }
func (d discard) Write(p []byte) (int, error) { return len(p), nil }
func (d discard) WriteHeader(int)             {}

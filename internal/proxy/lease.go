package proxy

import (
	"net/http"
	"time"

	"github.com/caching-proxy/caching-proxy/internal/metrics"
	"github.com/caching-proxy/caching-proxy/internal/policy"
)

// awaitSharedFill is request coalescing across the fleet. The leader of this
// replica's flight for a key that missed in both tiers takes the shared tier's fill
// lease before it goes to the origin; the fetch releases it when it ends (endFlight).
// When another replica holds the lease, this one waits for that replica's entry,
// as long as the tier allows (the lease's life, the tier's timeout per call), and
// serves it, to this request and to the requests waiting on its flight. It reports
// whether it answered; when not, the request fetches from the origin as before.
func (h *Handler) awaitSharedFill(w http.ResponseWriter, r *http.Request, x *exchange) bool {
	if h.opt.Shared == nil || x.flight.Load() == nil {
		return false
	}
	release, filled := h.opt.Shared.Lease(r.Context(), x.key)
	if !filled {
		x.lease = release
		return false
	}
	now := time.Now()
	e := h.lookupFor(w, r, x.key)
	if e == nil || e.status == http.StatusPartialContent && !e.partialFits(r) || policy.Reuse(e.fresh, x.req, now) != policy.Fresh {
		return false // the other replica's entry does not answer this request: fetch
	}
	h.endFlight(x, e, false)
	h.serve(w, r, e, metrics.Hit, "; detail=coalesced", now)
	return true
}

// endLease releases the fill lease x's fetch holds, if any. The release is queued
// behind the fill's own write to the shared tier, so a replica waiting for the
// lease finds the entry once the lease is gone.
func (x *exchange) endLease() {
	if x.lease != nil {
		x.lease() // idempotent; set once, before the fetch, so reading it is safe
	}
}

package proxy

import (
	"net/http"
	"time"

	"github.com/caching-proxy/caching-proxy/internal/policy"
)

// headUpdate applies a 200 response to a HEAD the cache forwarded to the stored GET
// response that could have been chosen for it, x.stored (RFC 9111 §4.3.5). When the
// validators and Content-Length agree it stores the stored response with its fields
// updated as from a 304 (§3.2) and returns that entry, from which the HEAD is answered.
// When they disagree the stored body is not the current one: the stored response is
// kept only as stale, and headUpdate returns nil.
func (h *Handler) headUpdate(x *exchange, resp *http.Response, requested time.Time) *entry {
	stored := x.stored
	if stored == nil || stored.status == http.StatusPartialContent || x.in.Method != http.MethodHead || resp.StatusCode != http.StatusOK {
		return nil
	}
	received := time.Now()
	if stored.status == http.StatusOK && policy.HeadMatches(stored.header(), resp.Header, received) {
		return h.refresh(x, stored, resp.Header, requested, received)
	}
	h.markStale(x, stored, received)
	return nil
}

// markStale replaces a stored response with a copy that is stale at now, so that the
// next request revalidates it; when such a copy would not be kept at all, the stored
// response goes.
func (h *Handler) markStale(x *exchange, stored *entry, now time.Time) {
	f := stored.fresh
	f.Lifetime = min(f.Lifetime, f.Age(now))
	// x.in matched the stored variant (lookup), so the copy lands on the same one.
	e := newEntry(x.key, int(stored.status), stored.header(), stored.body, f, x.in.Header)
	h.addCodings(e, stored) // the same body: its copies are kept, not made again
	if e.retention(now, h.opt.StaleIfError) <= 0 {
		h.drop(x.key)
		return
	}
	h.fill(x, e) // not when a purge came while the HEAD was out
}

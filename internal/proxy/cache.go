package proxy

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

var errIncompleteBody = errors.New("origin body ended early or exceeded --max-object-size")

// Shared is a cache tier other replicas see too (Redis). It holds encoded entries
// under the proxy's keys. Its methods must return quickly and treat every failure as
// a miss; the proxy keeps serving without it.
type Shared interface {
	Get(key string) ([]byte, bool)
	// Set stores value; compress says whether compressing it may pay (see sharedCompressible).
	Set(key string, value []byte, retention time.Duration, compress bool)
	Del(keys ...string) // also tells every replica to drop its local copies
	// Lease takes the fleet-wide fill lease for key, or waits for the replica holding
	// it to fill key (filled: look it up again). See awaitSharedFill.
	Lease(ctx context.Context, key string) (release func(), filled bool)
}

func (h *Handler) sharedGet(key string) (*entry, bool) {
	b, ok := h.opt.Shared.Get(key)
	if !ok {
		return nil, false
	}
	e, err := decodeEntry(b, key)
	if err != nil {
		return nil, false // written by another version: a miss, never a crash
	}
	h.addCodings(e, nil)
	// Keep a local copy briefly, so a clear or invalidation elsewhere that this
	// replica missed does bounded harm.
	h.store.SetTagged(e.storedKey(key), e, min(e.retention(time.Now(), h.opt.StaleIfError), sharedL1TTL), h.tagsOf(e))
	return e, true
}

// sharedL1TTL bounds how long an entry read from the shared tier lives in the local store.
const sharedL1TTL = 30 * time.Second

// put stores e under key, through a variant index when the response varies.
func (h *Handler) put(key string, e *entry) {
	now := time.Now()
	keep := e.retention(now, h.opt.StaleIfError)
	if keep <= 0 {
		return
	}
	h.flights.forget(key)
	h.addCodings(e, nil)
	vary := e.r().vary
	if len(vary) == 0 {
		h.set(key, e, keep)
		return
	}
	m, ok := h.store.Get(key)
	if !ok || !m.marker || !slices.Equal(m.r().vary, vary) {
		m = &entry{marker: true, rare: &rare{vary: vary, nonce: strconv.FormatUint(h.nonce.Add(1), 36)}, size: 256}
	}
	h.set(key, m, max(keep, revalidationWindow))
	h.set(variantKey(key, m.r().nonce, e.r().varyKey), e, keep)
}

func (h *Handler) set(key string, e *entry, keep time.Duration) {
	tags := h.tagsOf(e)
	key = e.storedKey(key)
	h.store.SetTagged(key, e, keep, tags)
	if h.opt.Shared != nil && e.sharedSize() <= h.opt.MaxSharedSize {
		h.opt.Shared.Set(key, e.encode(), keep, e.sharedCompressible())
		h.shareTags(key, tags, keep)
	}
	// ristretto applies Sets asynchronously; wait so the very next request sees it.
	h.store.Wait()
}

// drop removes what is stored under a primary key; a variant index going takes
// its variants with it, since a new index gets a new nonce.
func (h *Handler) drop(keys ...string) {
	for _, k := range keys {
		h.store.Del(k)
		h.flights.forget(k)
	}
	if h.opt.Shared != nil {
		h.opt.Shared.Del(keys...)
	}
	h.store.Wait()
}

// invalidate drops the stored responses an unsafe request changed (RFC 9111 §4.4):
// its target and same-origin Location and Content-Location.
func (h *Handler) invalidate(x *exchange, out *http.Request, resp http.Header) {
	keys := []string{x.key}
	for _, field := range []string{"Location", "Content-Location"} {
		v := resp.Get(field)
		if v == "" {
			continue
		}
		if k, ok := h.sameOriginKey(out.URL, x.in, v); ok {
			keys = append(keys, k)
		}
	}
	h.drop(keys...)
}

// sameOriginKey resolves a Location-like reference and returns its cache key when it
// names this proxy's origin, as the origin sees it or as the client does.
func (h *Handler) sameOriginKey(out *url.URL, in *http.Request, ref string) (string, bool) {
	u, err := out.Parse(ref)
	if err != nil {
		return "", false
	}
	origin := h.opt.Origin
	switch {
	case u.Host == origin.Host && u.Scheme == origin.Scheme:
		p := strings.TrimPrefix(u.EscapedPath(), strings.TrimSuffix(origin.EscapedPath(), "/"))
		if !strings.HasPrefix(p, "/") {
			return "", false
		}
		return h.Key(&url.URL{Path: u.Path, RawPath: p, RawQuery: u.RawQuery, ForceQuery: u.ForceQuery, Opaque: p}), true
	case u.Host == in.Host:
		return h.Key(u), true
	}
	return "", false
}

// DropLocal removes keys from this replica's store only; the shared tier calls it
// when another replica invalidated them.
func (h *Handler) DropLocal(keys ...string) {
	for _, k := range keys {
		h.store.Del(k)
		h.flights.forget(k)
	}
}

// Clear empties the local store and reports what it held.
func (h *Handler) Clear() (entries, bytes int64) {
	st := h.store.Clear()
	h.seen.reset()
	h.flights.mu.Lock()
	clear(h.flights.hitForMiss)
	h.flights.mu.Unlock()
	return st.Entries, st.Bytes
}

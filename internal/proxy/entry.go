package proxy

import (
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/caching-proxy/caching-proxy/internal/policy"
)

// entry is one stored response, or a variant index (marker) for a URL whose responses
// vary. Entries are immutable once built: a refresh builds a new one.
type entry struct {
	status  int
	header  http.Header // stored fields, Content-Length set, Age and hop-by-hop removed
	body    []byte
	fresh   policy.Freshness
	vary    []string // request fields this response varies on (for a marker: of its variants)
	varyKey string   // policy.SecondaryKey of the request that fetched it
	marker  bool     // a variant index: look up key+nonce+secondary key next
	tagged  bool     // header holds Surrogate-Key or Cache-Tag, which clients may not see
	nonce   string   // marker generation; a new marker orphans the variants of an old one
	size    int64    // bytes of header and body, for the store's budget
	// A 206 holds bytes [first, first+len(body)) of a representation of length complete.
	first, complete int64
	// codings are the body in other content codings (encode.go); nil when it has none.
	codings *codings
	// hit caches the per-use fields of a plain fresh hit for the second they hold.
	hit atomic.Pointer[hitFields]
}

// hitFields are Age, X-Cache and Cache-Status of a fresh hit, valid while the
// rendered age and ttl seconds are unchanged; shared by responses, never written.
type hitFields struct {
	age, ttl int64
	vals     [3][]string
}

// Cost implements store.Value.
func (e *entry) Cost() int64 { return e.size }

// newEntry builds an entry from a response's stored fields and complete body.
func newEntry(status int, header http.Header, body []byte, fresh policy.Freshness, reqHeader http.Header) *entry {
	h := header.Clone()
	h.Del("Cache-Status") // upstream caches' statuses are per response; ours is prepended on use
	h["Content-Length"] = []string{strconv.Itoa(len(body))}
	e := &entry{status: status, header: h, body: body, fresh: fresh, vary: policy.VaryNames(h), tagged: hasTagFields(h)}
	if status == http.StatusPartialContent {
		e.first, _, e.complete, _ = policy.ContentRange(h)
		delete(h, "Content-Range") // rendered per request from first and complete
	}
	e.varyKey = policy.SecondaryKey(reqHeader, e.vary)
	e.size = int64(len(body)) + headerSize(h) + int64(len(e.varyKey)) + entryOverhead
	return e
}

// retention is how long the store keeps the entry: its freshness plus the time in
// which it can still be revalidated (it has validators) or served stale (to a client's
// max-stale, or within stale-while-revalidate / stale-if-error windows).
func (e *entry) retention(now time.Time, staleIfError time.Duration) time.Duration {
	ttl := e.fresh.TTL(now)
	extra := time.Duration(0)
	if !e.fresh.MustRevalidate && !e.fresh.NoCache {
		extra = max(e.fresh.StaleRevalidate, e.fresh.StaleIfError, staleIfError, staleKeep)
	}
	if policy.HasValidators(e.header) {
		extra = max(extra, revalidationWindow)
	}
	if ttl > maxRetention-extra { // a far-future Expires must not overflow into "expired"
		return maxRetention
	}
	return ttl + extra
}

// autoLengthMax is the largest body net/http frames with a Content-Length of its own
// when a handler writes it in one piece and returns without one: it fits the
// response's first buffer (net/http's bufferBeforeChunkingSize). TestHitFraming pins it.
const autoLengthMax = 2048

// entryOverhead is what an entry holds beyond its header and body bytes: the header
// map's buckets, the entry itself and ristretto's bookkeeping, measured at ~0.9 KiB
// (docs/performance.md), so that --cache-size bounds the heap, not just the payload.
const entryOverhead = 1024

const (
	// revalidationWindow is how long a stale entry with validators is kept so a
	// conditional request can renew it instead of fetching the body again.
	revalidationWindow = 24 * time.Hour
	// staleKeep is how long any other stale entry that may be served stale is kept,
	// for clients that send max-stale (Varnish calls this grace). Admission and the
	// byte budget still evict it first when room is short.
	staleKeep = 10 * time.Minute
	// maxRetention bounds how long anything is kept, however long it stays fresh.
	maxRetention = 365 * 24 * time.Hour
)

// matches reports whether the entry answers a request with header h (RFC 9111 §4.1).
func (e *entry) matches(h http.Header) bool {
	return len(e.vary) == 0 || policy.SecondaryKey(h, e.vary) == e.varyKey
}

func headerSize(h http.Header) int64 {
	var n int64
	for k, vs := range h {
		for _, v := range vs {
			n += int64(len(k) + len(v) + 4)
		}
	}
	return n
}

// partialFits reports whether a stored 206 can be trimmed to the body of a request:
// a GET with one byte range, unconditional, within the stored bytes.
func (e *entry) partialFits(r *http.Request) bool {
	if r.Method != http.MethodGet || hasConditional(r.Header) || r.Header.Get("If-Range") != "" {
		return false
	}
	start, end, ok := parseRange(r.Header.Get("Range"), e.complete)
	return ok && start >= e.first && end < e.first+int64(len(e.body))
}

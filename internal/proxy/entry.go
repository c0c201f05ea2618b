package proxy

import (
	"maps"
	"math"
	"net/http"
	"slices"
	"strconv"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/caching-proxy/caching-proxy/internal/policy"
)

// entry is one stored response, or a variant index (marker) for a URL whose responses
// vary. Entries are immutable once built: a refresh builds a new one. A stored
// response's fields and body are one allocation (fields.go): the rendered block, then
// the body.
type entry struct {
	fields        // stored fields, Content-Length set, Age and hop-by-hop removed
	body   []byte // shares its allocation with fields.block
	fresh  policy.Freshness
	size   int64 // bytes the entry keeps alive, for the store's budget
	status int32
	marker bool   // a variant index: look up key+nonce+secondary key next
	tagged bool   // fields hold Surrogate-Key or Cache-Tag, which clients may not see
	keyLen uint16 // the length of the key behind the body, 0 when none is (storedKey)
	// hit caches the per-use fields of a plain fresh hit for the second they hold.
	hit atomic.Pointer[hitFields]
	// rare is what most stored responses lack; nil when the entry has none of it.
	rare *rare
}

// rare holds the parts of an entry that most lack, behind one pointer so that the
// common entry stays small (docs/performance.md, memory).
type rare struct {
	vary []string // request fields this response varies on (for a marker: of its variants)
	// varyKey is policy.SecondaryKey of the request that fetched it.
	varyKey string
	nonce   string // marker generation; a new marker orphans the variants of an old one
	// A 206 holds bytes [first, first+len(body)) of a representation of length complete.
	first, complete int64
	// codings are the body in other content codings (encode.go); nil when it has none.
	codings *codings
}

// noRare is what rare() reads for an entry without one; never written.
var noRare rare

// r returns the entry's rare parts for reading.
func (e *entry) r() *rare {
	if e.rare == nil {
		return &noRare
	}
	return e.rare
}

// w returns the entry's rare parts for writing, while the entry is being built.
func (e *entry) w() *rare {
	if e.rare == nil {
		e.rare = &rare{}
	}
	return e.rare
}

// hitFields are Age, X-Cache and Cache-Status of a fresh hit, valid while the
// rendered age and ttl seconds are unchanged; shared by responses, never written.
type hitFields struct {
	age, ttl int64
	vals     [3]string // a response's header map takes one-line slices of this array
}

// newHitFields returns the hitFields of text, which holds Age's value in its first
// ageLen bytes and Cache-Status's after them, X-Cache being HIT. The struct and its
// text are one unscanned allocation, as the stored fields are (fields.go): every
// string in it points into that allocation or at a constant, and whoever reads one
// reached it through e.hit or a header map's slice of vals, both pointers into it.
// Nearly every stored response that is used holds one, so it is one object fewer per
// entry for each collection to visit.
func newHitFields(age, ttl int64, text []byte, ageLen int) *hitFields {
	const size = int(unsafe.Sizeof(hitFields{}))
	mem := make([]byte, size+len(text))
	copy(mem[size:], text)
	if uintptr(unsafe.Pointer(&mem[0]))%unsafe.Alignof(hitFields{}) != 0 {
		panic("proxy: hit fields allocation not aligned")
	}
	f := (*hitFields)(unsafe.Pointer(&mem[0]))
	f.age, f.ttl = age, ttl
	at := uintptr(unsafe.Pointer(&mem[size]))
	// Written as words: the memory is not scanned, so there is nothing for a write
	// barrier to record.
	*(*[6]uintptr)(unsafe.Pointer(&f.vals)) = [6]uintptr{
		at, uintptr(ageLen),
		uintptr(unsafe.Pointer(unsafe.StringData(xCacheHit[0]))), uintptr(len(xCacheHit[0])),
		at + uintptr(ageLen), uintptr(len(text) - ageLen),
	}
	return f
}

// Cost implements store.Value.
func (e *entry) Cost() int64 { return e.size }

// newEntry builds an entry from a response's stored fields and complete body. Neither
// header nor body is kept: both are copied into the entry's one allocation, so the
// entry holds nothing of the response it came from.
// key is the key it is built for: copied behind the body, for the store (storedKey).
func newEntry(key string, status int, header http.Header, body []byte, fresh policy.Freshness, reqHeader http.Header) *entry {
	h := make(http.Header, len(header)+1) // shallow: only keys change below
	maps.Copy(h, header)
	delete(h, "Cache-Status") // upstream caches' statuses are per response; ours is prepended on use
	h["Content-Length"] = []string{strconv.Itoa(len(body))}
	e := &entry{status: int32(status), fresh: fresh}
	if status == http.StatusPartialContent {
		w := e.w()
		w.first, _, w.complete, _ = policy.ContentRange(h)
		delete(h, "Content-Range") // rendered per request from first and complete
	}
	allocated := e.setFields(h, body, key)
	if vary := e.r().vary; len(vary) > 0 {
		e.w().varyKey = policy.SecondaryKey(reqHeader, vary)
	}
	e.size = e.heldBytes(allocated)
	return e
}

// setFields renders h and copies body behind it into one new allocation, then key
// behind the body (for storedKey; not when there are no fields to find it from, or
// when it is too long to note its length), and sets what is derived from the fields
// (from the copy, so nothing points elsewhere).
func (e *entry) setFields(h http.Header, body []byte, key string) (allocated int64) {
	n := fieldsRoom(h)
	end := n + len(body)
	if n == 0 || len(key) > math.MaxUint16 {
		key = ""
	}
	// Grown, not made, so that cap is the allocation's size class: what it really holds.
	buf := slices.Grow([]byte(nil), end+len(key))[:end+len(key)]
	e.fields = renderFields(buf, h)
	e.body = buf[n:end:end]
	copy(e.body, body)
	copy(buf[end:], key)
	e.keyLen = uint16(len(key))
	if vary := policy.VaryNames(e.subset("Vary")); len(vary) > 0 {
		e.w().vary = vary
	} else if e.rare != nil {
		e.rare.vary = nil
	}
	e.tagged = hasTagFields(e.subset(policy.SurrogateKey, policy.CacheTag))
	return int64(cap(buf))
}

// storedKey returns key as the store should hold it: the copy behind e's body when e
// was built for key, so that a stored response keeps nothing alive but its entry and
// its one allocation (not the request line the key was cut from: one object fewer
// for each collection to visit, docs/performance.md); key itself otherwise, as for a
// variant, whose key is made when it is stored.
func (e *entry) storedKey(key string) string {
	if e.keyLen == 0 || int(e.keyLen) != len(key) {
		return key
	}
	at := roomFor(len(e.block), e.lines) + len(e.body)
	k := unsafe.String((*byte)(unsafe.Add(unsafe.Pointer(unsafe.StringData(e.block)), at)), len(key))
	if k != key {
		return key
	}
	return k
}

// heldBytes is what a stored response keeps alive, measured rather than guessed so
// that --cache-size bounds the heap (docs/performance.md): its one allocation (of
// allocated bytes, as setFields returned: the fields, their value views and the
// body), the strings beside them and the entry itself.
func (e *entry) heldBytes(allocated int64) int64 {
	n := allocated + entryOverhead
	if r := e.rare; r != nil {
		n += int64(unsafe.Sizeof(*r)) + int64(len(r.varyKey)+len(r.nonce)) + int64(cap(r.vary))*int64(unsafe.Sizeof(""))
	}
	return n
}

// retention is how long the store keeps the entry: its freshness plus the time in
// which it can still be revalidated (it has validators) or served stale (to a client's
// max-stale, or within stale-while-revalidate / stale-if-error windows).
func (e *entry) retention(now time.Time, staleIfError time.Duration) time.Duration {
	return retention(e.fresh, e.hasValidators(), now, staleIfError)
}

// retention is entry.retention before there is an entry.
func retention(fresh policy.Freshness, validators bool, now time.Time, staleIfError time.Duration) time.Duration {
	ttl := fresh.TTL(now)
	extra := time.Duration(0)
	if !fresh.MustRevalidate && !fresh.NoCache {
		extra = max(fresh.StaleRevalidate, fresh.StaleIfError, staleIfError, staleKeep)
	}
	if validators {
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

// entryOverhead is what every stored response holds beyond heldBytes' counted
// parts: the entry struct, rounded up to its allocation size class, and the hit
// fields a hit renders once a second (measured in TestEntryHeldBytes).
const entryOverhead = int64(unsafe.Sizeof(entry{})) + 32 + hitFieldsSize

// hitFieldsSize is a hitFields with its text ("N" + Name + "; hit; ttl=N") behind it,
// in its allocation's size class (newHitFields).
const hitFieldsSize = int64(unsafe.Sizeof(hitFields{})) + 32

// hasValidators reports whether the stored response can be revalidated (RFC 9111 §4.3.1).
func (e *entry) hasValidators() bool {
	return e.get("Etag") != "" || e.get("Last-Modified") != ""
}

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
	r := e.r()
	return len(r.vary) == 0 || policy.SecondaryKey(h, r.vary) == r.varyKey
}

// partialFits reports whether a stored 206 can be trimmed to the body of a request:
// a GET with one byte range, unconditional, within the stored bytes.
func (e *entry) partialFits(r *http.Request) bool {
	if r.Method != http.MethodGet || hasConditional(r.Header) || r.Header.Get("If-Range") != "" {
		return false
	}
	x := e.r()
	start, end, ok := parseRange(r.Header.Get("Range"), x.complete)
	return ok && start >= x.first && end < x.first+int64(len(e.body))
}

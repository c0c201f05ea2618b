package proxy

import (
	"hash/maphash"
	"math"
	"net/http"
	"strings"
	"sync"
	"time"
)

// Decision is why the last response for a key was or was not stored, in the words
// policy.Storable gave (the same as the Cache-Status detail).
type Decision struct {
	Time   time.Time // when the response arrived
	Method string    // of the request that fetched it
	Status int       // the origin's status
	Stored bool      // admitted for storing (a body that ended early or grew too large is not kept)
	Reason string    // why not: no-store, private, authorization, set-cookie, vary-star, status, ...; "" when stored
}

// decisions keeps the last Decision per primary key, bounded: two generations of at
// most maxDecisions keys each, the older dropped whole when the newer fills.
//
// A key is held as its hash under a seed of this process's own. A key string would be
// a substring of its request's request line, and so keep that alive after its entry
// went (or hold a stored key's allocation, a whole entry's); and maps without pointers
// are not scanned by the collector. The chance that any two of the 20,000 held share
// a hash is ~10^-11; one key's answer would then show the other's decision, in an
// admin view that serves nothing.
type decisions struct {
	mu       sync.Mutex
	seed     maphash.Seed
	cur, old map[uint64]decision
	words    words // the methods and reasons decisions name
}

// hash returns key's hash; d.mu is held.
func (d *decisions) hash(key string) uint64 {
	if d.seed == (maphash.Seed{}) {
		d.seed = maphash.MakeSeed()
	}
	return maphash.String(d.seed, key)
}

// decision is a Decision as kept: 16 bytes, its method and reason numbers in words,
// since every key the cache fills has one (docs/performance.md, memory).
type decision struct {
	at             int64 // Unix nanoseconds
	status         int32
	method, reason uint8
	stored         bool
}

const maxDecisions = 10_000

// words numbers the strings decisions hold: the standard methods and the reasons
// policy.Storable gives are a few dozen; a method of a client's own making is
// numbered too while there is room, and is otherwise remembered as otherWord.
type words struct {
	names []string
	ids   map[string]uint8
}

// otherWord is what a decision says once words has no room left for a new name.
const otherWord = "(other)"

func (w *words) id(s string) uint8 {
	if w.ids == nil {
		w.ids = map[string]uint8{}
		for _, m := range []string{otherWord, "", http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut,
			http.MethodPatch, http.MethodDelete, http.MethodOptions, http.MethodTrace, http.MethodConnect} {
			w.ids[m] = uint8(len(w.names))
			w.names = append(w.names, m)
		}
	}
	if id, ok := w.ids[s]; ok {
		return id
	}
	if len(w.names) > math.MaxUint8 {
		return 0 // otherWord
	}
	id := uint8(len(w.names))
	w.ids[s] = id
	w.names = append(w.names, strings.Clone(s)) // a method is a substring of its request line
	return id
}

func (w *words) name(id uint8) string { return w.names[id] }

func (d *decisions) note(key string, dec Decision) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.cur == nil {
		d.cur = make(map[uint64]decision)
	}
	k := d.hash(key)
	if _, ok := d.cur[k]; !ok && len(d.cur) >= maxDecisions {
		d.old, d.cur = d.cur, make(map[uint64]decision, maxDecisions/4)
	}
	d.cur[k] = decision{at: dec.Time.UnixNano(), method: d.words.id(dec.Method), reason: d.words.id(dec.Reason),
		status: int32(dec.Status), stored: dec.Stored}
}

func (d *decisions) get(key string) (Decision, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	k := d.hash(key)
	dec, ok := d.cur[k]
	if !ok {
		if dec, ok = d.old[k]; !ok {
			return Decision{}, false
		}
	}
	return Decision{Time: time.Unix(0, dec.at), Method: d.words.name(dec.method), Status: int(dec.status),
		Stored: dec.stored, Reason: d.words.name(dec.reason)}, true
}

func (d *decisions) reset() {
	d.mu.Lock()
	d.cur, d.old = nil, nil
	d.mu.Unlock()
}

// decided records the storability decision of an origin response for x's key.
func (h *Handler) decided(x *exchange, status int, ok bool, why string) {
	h.seen.note(x.key, Decision{Time: time.Now(), Method: x.in.Method, Status: status, Stored: ok, Reason: why})
}

// fillFailed records that a response admitted for storing was not kept: its body
// ended early, or grew past --max-object-size (only a Content-Length says so before).
func (h *Handler) fillFailed(x *exchange, status int) {
	h.decided(x, status, false, "incomplete-or-too-large")
}

// Explanation answers why a URL is or is not in the cache.
type Explanation struct {
	Key        string
	Decision   *Decision // the last response's; nil when none is remembered
	Stored     int       // variants stored now (this replica's, and the shared tier's it knows of)
	HitForMiss time.Time // until when requests go straight to the origin (a recent uncacheable response); zero when not
}

// Explain reports what the cache last decided for target (a path and query) and
// what it holds for it now.
func (h *Handler) Explain(target string) (Explanation, error) {
	key, err := h.targetKey(target)
	if err != nil {
		return Explanation{}, err
	}
	ex := Explanation{Key: key}
	if dec, ok := h.seen.get(key); ok {
		ex.Decision = &dec
	}
	ex.Stored = len(h.entries(key))
	h.flights.mu.Lock()
	if until, ok := h.flights.hitForMiss[key]; ok && time.Now().Before(until) {
		ex.HitForMiss = until
	}
	h.flights.mu.Unlock()
	return ex, nil
}

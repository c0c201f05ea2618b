// Package store is a byte-bounded in-memory map from string keys to immutable values,
// built on ristretto, with an index that finds keys by prefix and by tag. It knows
// keys, tags, costs and retention times, and no HTTP rules.
//
// ristretto hashes keys, so the full key is kept beside each value and compared on
// Get; Set is asynchronous and may be refused by admission, so a true result never
// promises a later hit; Clear is not atomic, so Clear swaps in a fresh cache (and a
// fresh index with it).
package store

import (
	"fmt"
	"sync/atomic"
	"time"

	"github.com/dgraph-io/ristretto/v2"
)

// Value is what the store holds: something that knows its size in bytes.
type Value interface {
	Cost() int64
}

// Store holds values of type V under string keys within a byte budget.
type Store[V Value] struct {
	maxBytes int64
	g        atomic.Pointer[gen[V]]
	evicted  atomic.Int64
	rejected atomic.Int64
}

// gen is one cache and the index that follows it; Clear replaces both at once.
type gen[V Value] struct {
	c   *ristretto.Cache[string, slot[V]]
	idx *index
}

// slot keeps the full key so a hash collision is a miss, never a wrong answer, and
// the tags the index holds the key under, so the index can forget them when it goes.
// ristretto holds a slot by value in its map, per entry: tags are behind a pointer,
// nil for the many entries without tags, so the slot is 32 bytes, not 48.
type slot[V Value] struct {
	key  string
	v    V
	tags *[]string
}

// tagList returns the slot's tags, or nil.
func (sl slot[V]) tagList() []string {
	if sl.tags == nil {
		return nil
	}
	return *sl.tags
}

// slotOverhead is ristretto's and our bookkeeping per entry beyond the key and the
// value (its map item and the map's spare room, the expiry bucket's and the
// policy's entries, our slot), so that many small entries still respect the byte
// budget. With the key index (indexCost) it comes to ~251 bytes per entry (it was
// ~420 with a radix tree for the index, ristretto's metrics on and tags in the slot),
// measured by TestBookkeepingIsCharged.
const slotOverhead = 224

// New returns a store that keeps at most maxBytes of values.
func New[V Value](maxBytes int64) (*Store[V], error) {
	s := &Store[V]{maxBytes: maxBytes}
	g, err := s.newGen()
	if err != nil {
		return nil, err
	}
	s.g.Store(g)
	return s, nil
}

func (s *Store[V]) newGen() (*gen[V], error) {
	// ristretto's guidance: counters ~10x the expected number of entries. We expect
	// entries of a few KiB, so budget/1KiB entries, within sane bounds.
	counters := min(max(s.maxBytes/1024*10, 10_000), 50_000_000)
	g := &gen[V]{idx: newIndex()}
	current := func() bool { return s.g.Load() == g } // a cache swapped out by Clear counts no more
	c, err := ristretto.NewCache(&ristretto.Config[string, slot[V]]{
		NumCounters: counters,
		MaxCost:     s.maxBytes,
		BufferItems: 64,
		// No ristretto metrics: they time every key's admission in a map of their own
		// (64 bytes per entry) and count every Get; Stats counts from the index.
		Metrics:            false,
		IgnoreInternalCost: true,
		OnEvict: func(*ristretto.Item[slot[V]]) {
			if current() {
				s.evicted.Add(1)
			}
		},
		OnReject: func(*ristretto.Item[slot[V]]) {
			if current() {
				s.rejected.Add(1)
			}
		},
		// Every value that leaves, however (replaced, deleted, evicted, expired,
		// refused), passes here exactly once; the zero slot stands for "nothing".
		OnExit: func(sl slot[V]) {
			if sl.key != "" {
				g.idx.remove(sl.key, sl.tagList())
			}
		},
	})
	if err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	// ristretto makes its admission counters (a count-min sketch and a bloom filter,
	// ~12 MiB at the default 256 MiB budget) without touching them, so the OS maps
	// their pages as the first few thousand keys hash into them: RSS would grow by
	// that fixed cost as if the first objects had brought it. Clearing writes them
	// once, now, so RSS shows from the start what the budget commits, and grows
	// afterwards by what objects cost (docs/performance.md). Nothing is stored yet.
	c.Clear()
	g.c = c
	return g, nil
}

// Get returns the value stored under key.
func (s *Store[V]) Get(key string) (V, bool) {
	sl, ok := s.g.Load().c.Get(key)
	if !ok || sl.key != key {
		var zero V
		return zero, false
	}
	return sl.v, true
}

// Set stores v under key for at most retention. It reports false when the write was
// dropped at once; true does not promise a later hit, since admission may refuse it.
func (s *Store[V]) Set(key string, v V, retention time.Duration) bool {
	return s.SetTagged(key, v, retention, nil)
}

// SetTagged is Set for a value that carries tags: KeysWithTag finds it under each of
// them while it is stored. tags must not change afterwards. The index's bytes for the
// key and its tags are charged to the value's cost.
func (s *Store[V]) SetTagged(key string, v V, retention time.Duration, tags []string) bool {
	cost := v.Cost() + int64(len(key)) + slotOverhead + indexCost(key, tags)
	if cost > s.maxBytes || retention <= 0 || key == "" {
		return false
	}
	g := s.g.Load()
	g.idx.add(key, tags) // before ristretto can see the value, so its exit finds it
	sl := slot[V]{key: key, v: v}
	if len(tags) > 0 {
		sl.tags = &tags
	}
	if !g.c.SetWithTTL(key, sl, cost, retention) {
		g.idx.remove(key, tags) // dropped at once: ristretto never held it
		return false
	}
	return true
}

// Del removes key.
func (s *Store[V]) Del(key string) { s.g.Load().c.Del(key) }

// KeysWithPrefix returns the stored keys that start with prefix (literally; no
// patterns), including some whose values are leaving at this moment.
func (s *Store[V]) KeysWithPrefix(prefix string) []string { return s.g.Load().idx.withPrefix(prefix) }

// KeysWithTag returns the stored keys whose values carry tag (exactly).
func (s *Store[V]) KeysWithTag(tag string) []string { return s.g.Load().idx.withTag(tag) }

// Wait blocks until earlier Sets and Dels are applied. Tests use it instead of sleeping.
func (s *Store[V]) Wait() { s.g.Load().c.Wait() }

// Clear empties the store and reports what it held. Requests in flight see either the
// old contents or none, never a half-cleared cache.
func (s *Store[V]) Clear() Stats {
	fresh, err := s.newGen()
	if err != nil { // the same config succeeded in New
		panic(err)
	}
	old := s.g.Swap(fresh)
	st := statsOf(old)
	old.c.Close()
	return st
}

// Close releases the store's goroutines.
func (s *Store[V]) Close() { s.g.Load().c.Close() }

// Stats are the store's figures at one moment.
type Stats struct {
	Entries  int64 // values held
	Bytes    int64 // their cost, including per-entry overhead
	MaxBytes int64 // the budget
	Evicted  int64 // values pushed out to make room or expired, since start
	Rejected int64 // Sets refused by admission, since start
	// The index: keys it can find by prefix, and (tag, key) pairs it can find by tag.
	IndexKeys, IndexTagged int64
}

// Stats reports the store's current figures.
func (s *Store[V]) Stats() Stats {
	st := statsOf(s.g.Load())
	st.MaxBytes = s.maxBytes
	st.Evicted = s.evicted.Load()
	st.Rejected = s.rejected.Load()
	return st
}

func statsOf[V Value](g *gen[V]) Stats {
	st := Stats{Bytes: g.c.MaxCost() - g.c.RemainingCost()}
	st.IndexKeys, st.IndexTagged = g.idx.size()
	// The index follows the cache exactly (index): a key it holds is a stored value,
	// or one whose Set ristretto has not applied yet.
	st.Entries = st.IndexKeys
	return st
}

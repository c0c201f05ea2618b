// Package store is a byte-bounded in-memory map from string keys to immutable values,
// built on ristretto. It knows keys, costs and retention times, and no HTTP rules.
//
// ristretto hashes keys, so the full key is kept beside each value and compared on
// Get; Set is asynchronous and may be refused by admission, so a true result never
// promises a later hit; Clear is not atomic, so Clear swaps in a fresh cache.
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
	c        atomic.Pointer[ristretto.Cache[string, slot[V]]]
	evicted  atomic.Int64
	rejected atomic.Int64
}

// slot keeps the full key so a hash collision is a miss, never a wrong answer.
type slot[V Value] struct {
	key string
	v   V
}

// slotOverhead approximates ristretto's and our bookkeeping per entry, so that
// many small entries still respect the byte budget.
const slotOverhead = 128

// New returns a store that keeps at most maxBytes of values.
func New[V Value](maxBytes int64) (*Store[V], error) {
	s := &Store[V]{maxBytes: maxBytes}
	c, err := s.newCache()
	if err != nil {
		return nil, err
	}
	s.c.Store(c)
	return s, nil
}

func (s *Store[V]) newCache() (*ristretto.Cache[string, slot[V]], error) {
	// ristretto's guidance: counters ~10x the expected number of entries. We expect
	// entries of a few KiB, so budget/1KiB entries, within sane bounds.
	counters := min(max(s.maxBytes/1024*10, 10_000), 50_000_000)
	var c *ristretto.Cache[string, slot[V]]
	current := func() bool { return s.c.Load() == c } // a cache swapped out by Clear counts no more
	c, err := ristretto.NewCache(&ristretto.Config[string, slot[V]]{
		NumCounters:        counters,
		MaxCost:            s.maxBytes,
		BufferItems:        64,
		Metrics:            true,
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
	})
	if err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	return c, nil
}

// Get returns the value stored under key.
func (s *Store[V]) Get(key string) (V, bool) {
	sl, ok := s.c.Load().Get(key)
	if !ok || sl.key != key {
		var zero V
		return zero, false
	}
	return sl.v, true
}

// Set stores v under key for at most retention. It reports false when the write was
// dropped at once; true does not promise a later hit, since admission may refuse it.
func (s *Store[V]) Set(key string, v V, retention time.Duration) bool {
	cost := v.Cost() + int64(len(key)) + slotOverhead
	if cost > s.maxBytes || retention <= 0 {
		return false
	}
	return s.c.Load().SetWithTTL(key, slot[V]{key: key, v: v}, cost, retention)
}

// Del removes key.
func (s *Store[V]) Del(key string) { s.c.Load().Del(key) }

// Wait blocks until earlier Sets and Dels are applied. Tests use it instead of sleeping.
func (s *Store[V]) Wait() { s.c.Load().Wait() }

// Clear empties the store and reports what it held. Requests in flight see either the
// old contents or none, never a half-cleared cache.
func (s *Store[V]) Clear() Stats {
	fresh, err := s.newCache()
	if err != nil { // the same config succeeded in New
		panic(err)
	}
	old := s.c.Swap(fresh)
	st := statsOf(old)
	old.Close()
	return st
}

// Close releases the store's goroutines.
func (s *Store[V]) Close() { s.c.Load().Close() }

// Stats are the store's figures at one moment.
type Stats struct {
	Entries  int64 // values held
	Bytes    int64 // their cost, including per-entry overhead
	MaxBytes int64 // the budget
	Evicted  int64 // values pushed out to make room or expired, since start
	Rejected int64 // Sets refused by admission, since start
}

// Stats reports the store's current figures.
func (s *Store[V]) Stats() Stats {
	st := statsOf(s.c.Load())
	st.MaxBytes = s.maxBytes
	st.Evicted = s.evicted.Load()
	st.Rejected = s.rejected.Load()
	return st
}

func statsOf[V Value](c *ristretto.Cache[string, slot[V]]) Stats {
	m := c.Metrics
	return Stats{
		Entries: int64(m.KeysAdded()) - int64(m.KeysEvicted()),
		Bytes:   c.MaxCost() - c.RemainingCost(),
	}
}

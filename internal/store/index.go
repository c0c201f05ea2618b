package store

import (
	"sync"

	"github.com/armon/go-radix"
)

// index finds stored keys by prefix and by tag, which ristretto cannot: it hashes
// keys and cannot be iterated. It follows the cache exactly through ristretto's
// OnExit, which sees every value leave (replaced, deleted, evicted, expired,
// refused by admission), so it never holds a key the cache has let go of for longer
// than ristretto takes to apply a write. Its bytes are charged to each entry's cost
// (indexCost), so --cache-size bounds the index too.
//
// ristretto may briefly hold two versions of one key (a second Set queued before the
// first is applied; the later one is then refused), so the index counts live versions
// per key and per (tag, key), and forgets a key or a tag membership only at zero.
type index struct {
	mu   sync.Mutex
	keys *radix.Tree                 // key -> *int32: live versions of the key
	tags map[string]map[string]int32 // tag -> key -> live versions carrying the tag
}

// Per-entry bytes of the index, charged with the entry: a radix leaf and its share
// of inner nodes (the key is held once by the leaf and once in the edges), and per
// tag a map entry under the tag. Measured by TestIndexFollowsStore's heap figure.
const (
	keyIndexOverhead = 160
	tagIndexOverhead = 96
)

func indexCost(key string, tags []string) int64 {
	n := int64(keyIndexOverhead + 2*len(key))
	for _, t := range tags {
		n += int64(tagIndexOverhead + len(t) + len(key))
	}
	return n
}

func newIndex() *index { return &index{keys: radix.New(), tags: map[string]map[string]int32{}} }

// add records one more live version of key carrying tags.
func (x *index) add(key string, tags []string) {
	x.mu.Lock()
	defer x.mu.Unlock()
	if v, ok := x.keys.Get(key); ok {
		*v.(*int32)++
	} else {
		n := int32(1)
		x.keys.Insert(key, &n)
	}
	for _, t := range tags {
		m := x.tags[t]
		if m == nil {
			m = map[string]int32{}
			x.tags[t] = m
		}
		m[key]++
	}
}

// remove records that one version of key, carrying tags, left the cache.
func (x *index) remove(key string, tags []string) {
	x.mu.Lock()
	defer x.mu.Unlock()
	v, ok := x.keys.Get(key)
	if !ok {
		return
	}
	if n := v.(*int32); *n > 1 {
		*n--
	} else {
		x.keys.Delete(key)
	}
	for _, t := range tags {
		m := x.tags[t]
		if m[key] > 1 {
			m[key]--
			continue
		}
		delete(m, key)
		if len(m) == 0 {
			delete(x.tags, t)
		}
	}
}

// withPrefix returns the keys that start with prefix, literally.
func (x *index) withPrefix(prefix string) []string {
	x.mu.Lock()
	defer x.mu.Unlock()
	var keys []string
	x.keys.WalkPrefix(prefix, func(k string, _ any) bool {
		keys = append(keys, k)
		return false
	})
	return keys
}

// withTag returns the keys of entries carrying tag, exactly.
func (x *index) withTag(tag string) []string {
	x.mu.Lock()
	defer x.mu.Unlock()
	m := x.tags[tag]
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	return keys
}

// size reports the keys and the (tag, key) memberships the index holds.
func (x *index) size() (keys, memberships int64) {
	x.mu.Lock()
	defer x.mu.Unlock()
	for _, m := range x.tags {
		memberships += int64(len(m))
	}
	return int64(x.keys.Len()), memberships
}

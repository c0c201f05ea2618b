package store

import (
	"strings"
	"sync"
	"unsafe"

	"github.com/google/btree"
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
	keys *btree.BTreeG[versions]     // in key order, so a prefix is a range
	tags map[string]map[string]int32 // tag -> key -> live versions carrying the tag
}

// versions is a key in the index and how many live versions of it the cache holds.
// The B-tree holds these by value in its nodes, sharing the key's bytes with the
// store's slot: 24 bytes per key and the nodes' spare room, where a radix tree
// spent ~105 bytes on a leaf, a node, an edge and a boxed counter
// (docs/performance.md, memory).
type versions struct {
	key string
	n   int32
}

func byKey(a, b versions) bool { return a.key < b.key }

// treeDegree is the B-tree's degree: nodes of up to 63 keys keep the tree shallow
// (four levels for a million keys) and the per-node overhead small per key.
const treeDegree = 32

// Per-entry bytes of the index, charged with the entry: a B-tree item and its share
// of the nodes' spare room (the key's bytes are the slot's), and per tag a map entry
// under the tag. Measured by TestBookkeepingIsCharged and TestIndexFollowsStore.
const (
	keyIndexOverhead = 40
	tagIndexOverhead = 96
)

func indexCost(key string, tags []string) int64 {
	n := int64(keyIndexOverhead)
	for _, t := range tags {
		n += int64(tagIndexOverhead + len(t) + len(key))
	}
	return n
}

func newIndex() *index {
	return &index{keys: btree.NewG(treeDegree, byKey), tags: map[string]map[string]int32{}}
}

// add records one more live version of key carrying tags.
func (x *index) add(key string, tags []string) {
	x.mu.Lock()
	defer x.mu.Unlock()
	v, _ := x.keys.Get(versions{key: key})
	x.keys.ReplaceOrInsert(versions{key: key, n: v.n + 1})
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
	v, ok := x.keys.Get(versions{key: key})
	if !ok {
		return
	}
	// A key may share its bytes with the value that is leaving (a caller may cut it
	// from the value's own memory, as the proxy does), so what stays must not hold
	// them: the item keeps the key it holds unless that is the leaving one's, and a
	// count that stays takes a copy (a string key is replaced on every assignment).
	leaving := unsafe.StringData(key)
	if v.n > 1 {
		if unsafe.StringData(v.key) == leaving {
			v.key = strings.Clone(key)
		}
		x.keys.ReplaceOrInsert(versions{key: v.key, n: v.n - 1})
	} else {
		x.keys.Delete(v)
	}
	for _, t := range tags {
		m := x.tags[t]
		if n := m[key]; n > 1 {
			delete(m, key)
			m[strings.Clone(key)] = n - 1
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
	x.keys.AscendGreaterOrEqual(versions{key: prefix}, func(v versions) bool {
		if !strings.HasPrefix(v.key, prefix) {
			return false // past the keys that start with prefix: they sort together
		}
		keys = append(keys, v.key)
		return true
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

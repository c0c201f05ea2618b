package store

import (
	"container/list"
	"math"
	"math/rand/v2"
	"sort"
)

// zipf draws ranks 0..n-1 with P(k) proportional to 1/(k+1)^s by inverting a
// precomputed CDF. Unlike math/rand/v2's Zipf it allows s = 1, the usual fit for
// web object popularity.
type zipf struct {
	cdf []float64
	r   *rand.Rand
}

func newZipf(n int, s float64, seed uint64) *zipf {
	cdf := make([]float64, n)
	sum := 0.0
	for k := range n {
		sum += 1 / math.Pow(float64(k+1), s)
		cdf[k] = sum
	}
	for k := range cdf {
		cdf[k] /= sum
	}
	return &zipf{cdf: cdf, r: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))}
}

func (z *zipf) next() int {
	return min(sort.SearchFloat64s(z.cdf, z.r.Float64()), len(z.cdf)-1)
}

// lru is the baseline the store is compared with: least recently used eviction
// under a byte budget, one lock-free map and list (callers serialize).
type lru[V Value] struct {
	max, used int64
	ll        *list.List
	m         map[string]*list.Element
}

type lruItem[V Value] struct {
	key string
	v   V
}

func newLRU[V Value](maxBytes int64) *lru[V] {
	return &lru[V]{max: maxBytes, ll: list.New(), m: map[string]*list.Element{}}
}

func (c *lru[V]) Get(key string) (V, bool) {
	el, ok := c.m[key]
	if !ok {
		var zero V
		return zero, false
	}
	c.ll.MoveToFront(el)
	return el.Value.(*lruItem[V]).v, true
}

// Set charges what the store charges: the value's cost, the key and slotOverhead.
func (c *lru[V]) Set(key string, v V) {
	if el, ok := c.m[key]; ok {
		c.used -= c.cost(el.Value.(*lruItem[V]))
		c.ll.Remove(el)
	}
	it := &lruItem[V]{key: key, v: v}
	if c.cost(it) > c.max {
		return
	}
	c.m[key] = c.ll.PushFront(it)
	c.used += c.cost(it)
	for c.used > c.max {
		old := c.ll.Remove(c.ll.Back()).(*lruItem[V])
		delete(c.m, old.key)
		c.used -= c.cost(old)
	}
}

func (c *lru[V]) cost(it *lruItem[V]) int64 { return it.v.Cost() + int64(len(it.key)) + slotOverhead }

package store

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"sync"
	"testing"
	"time"
)

// fixed is a value of a fixed cost that holds no memory, so benchmarks measure the
// store and not the allocator.
type fixed int64

func (f fixed) Cost() int64 { return int64(f) }

func keys(n int) []string {
	ks := make([]string, n)
	for i := range ks {
		ks[i] = fmt.Sprintf("/objects/%d", i)
	}
	return ks
}

// BenchmarkGet reads keys of a full store from every P at once. Reads take no
// store-wide lock, so ns/op should fall with -cpu 1,2,...; the mutex-guarded LRU
// (whose Get must move the element) is shown beside it for contrast.
//
//	go test -run '^$' -bench BenchmarkGet -cpu 1,2 ./internal/store/
func BenchmarkGet(b *testing.B) {
	const n = 10_000
	ks := keys(n)
	b.Run("store", func(b *testing.B) {
		s, err := New[fixed](n * (1024 + 32 + slotOverhead))
		if err != nil {
			b.Fatal(err)
		}
		defer s.Close()
		for _, k := range ks {
			s.Set(k, 1024, time.Hour)
		}
		s.Wait()
		b.ReportAllocs()
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			r := rand.New(rand.NewPCG(rand.Uint64(), 0))
			for pb.Next() {
				s.Get(ks[r.IntN(n)])
			}
		})
	})
	b.Run("mutex-lru", func(b *testing.B) {
		c := newLRU[fixed](n * (1024 + 32 + slotOverhead))
		for _, k := range ks {
			c.Set(k, 1024)
		}
		var mu sync.Mutex
		b.ReportAllocs()
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			r := rand.New(rand.NewPCG(rand.Uint64(), 0))
			for pb.Next() {
				k := ks[r.IntN(n)]
				mu.Lock()
				c.Get(k)
				mu.Unlock()
			}
		})
	})
}

// BenchmarkZipfHitRatio feeds one Zipf(s=1) stream of requests over 100k keys of
// equal size to the store and to an LRU of the same byte budget, which holds 10% of
// the keys. A miss is followed by a Set (and, as the proxy does, a Wait), so the
// reported ratios are what a cache of each kind would achieve; ideal-hit-ratio is
// the share of requests for the 10% most popular keys, what a cache that knew the
// distribution would get. The first half million requests warm both caches and are
// not counted.
//
//	go test -run '^$' -bench BenchmarkZipfHitRatio -benchtime 2000000x ./internal/store/
func BenchmarkZipfHitRatio(b *testing.B) {
	const (
		n      = 100_000
		size   = 1024
		warmup = 500_000
	)
	ks := keys(n)
	budget := int64(n/10) * (size + int64(len(ks[n-1])) + slotOverhead)
	s, err := New[fixed](budget)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	l := newLRU[fixed](budget)
	z := newZipf(n, 1.0, 1)
	var hits, lruHits, reqs int
	request := func() {
		k := ks[z.next()]
		reqs++
		if _, ok := s.Get(k); ok {
			hits++
		} else {
			s.Set(k, size, time.Hour)
			s.Wait()
		}
		if _, ok := l.Get(k); ok {
			lruHits++
		} else {
			l.Set(k, size)
		}
	}
	for range warmup {
		request()
	}
	hits, lruHits, reqs = 0, 0, 0
	for b.Loop() {
		request()
	}
	b.ReportMetric(float64(hits)/float64(reqs), "hit-ratio")
	b.ReportMetric(float64(lruHits)/float64(reqs), "lru-hit-ratio")
	b.ReportMetric(z.cdf[n/10-1], "ideal-hit-ratio") // the 10% most popular keys pinned
	b.ReportMetric(float64(s.Stats().Bytes)/float64(budget), "store-fill")
}

// TestHeapStaysNearBudget pushes ten times the budget of distinct values through a
// store and checks that the live heap afterwards is the budget plus a bounded
// overhead: evicted and refused values are garbage, not kept by the store's
// bookkeeping. It counts bytes, not time. Measured on Go 1.26 / amd64: about 1.05x
// the budget (see docs/performance.md); the limit leaves room for other runtimes.
func TestHeapStaysNearBudget(t *testing.T) {
	const (
		budget    = 32 << 20
		valueSize = 64 << 10
		total     = 10 * budget
		// maxHeld is what the store may keep alive for a budget of 32 MiB: the budget,
		// ristretto's counters and buffers, and slack for the test binary itself.
		maxHeld = budget + budget/4 + 8<<20
	)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)

	s := newStore(t, budget)
	for i := range total / valueSize {
		s.Set(fmt.Sprintf("/objects/%d", i), make(blob, valueSize), time.Hour)
		s.Wait()
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	st := s.Stats()
	runtime.KeepAlive(s)

	held := int64(after.HeapAlloc) - int64(before.HeapAlloc)
	t.Logf("budget %d MiB, pushed %d MiB: %d entries, %.1f MiB counted by the store, live heap +%.1f MiB (%.2fx the budget), heap in use %.1f MiB, next GC at %.1f MiB",
		budget>>20, total>>20, st.Entries, float64(st.Bytes)/(1<<20), float64(held)/(1<<20), float64(held)/budget,
		float64(after.HeapInuse)/(1<<20), float64(after.NextGC)/(1<<20))
	if st.Bytes > budget {
		t.Errorf("Stats().Bytes = %d, want <= %d", st.Bytes, budget)
	}
	if held > maxHeld {
		t.Errorf("live heap grew by %d bytes, want <= %d (budget %d)", held, maxHeld, budget)
	}
}

package store

import (
	"fmt"
	"runtime"
	"testing"
	"time"
)

// boxed is a value held by pointer, as the proxy holds its entries.
type boxed struct{ cost int64 }

func (b *boxed) Cost() int64 { return b.cost }

// TestBookkeepingIsCharged measures what the store keeps per entry beyond the value
// and its key (ristretto's map item, expiry bucket and policy cost, our slot and the
// key index) and checks that slotOverhead and indexCost charge it, without
// overstating it by much: with small objects this is a large share of what a
// byte budget buys, and --cache-size must bound the heap.
func TestBookkeepingIsCharged(t *testing.T) {
	const n = 20_000
	keyOf := func(i int) string { return fmt.Sprintf("http://origin.example/objects/%08d", i) }
	key := keyOf(0)
	keyAlloc := float64(48) // a 37-byte key string's size class
	perEntry := 0.0
	// Memory freed by other goroutines while this measures would make the figure too
	// low, so the largest of three is the figure.
	for range 3 {
		var before, after runtime.MemStats
		s, err := New[*boxed](1 << 30)
		if err != nil {
			t.Fatal(err)
		}
		runtime.GC()
		runtime.ReadMemStats(&before)
		for i := range n {
			s.Set(keyOf(i), &boxed{cost: 16}, time.Hour)
			s.Wait()
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		if got := s.Stats().Entries; got < n*9/10 {
			t.Fatalf("%d of %d entries stored: the figure would not be per entry", got, n)
		}
		perEntry = max(perEntry, (float64(after.HeapAlloc)-float64(before.HeapAlloc))/float64(s.Stats().Entries))
		runtime.KeepAlive(s)
	}
	held := perEntry - 16 - keyAlloc // the value and the key are the caller's
	charged := float64(slotOverhead + indexCost(key, nil))
	t.Logf("per entry: %.0f bytes of bookkeeping on the heap, %.0f charged (slotOverhead %d + indexCost %d)", held, charged, slotOverhead, indexCost(key, nil))
	if charged < held {
		t.Errorf("charged %.0f bytes of bookkeeping per entry, but the store keeps %.0f", charged, held)
	}
	if charged > 1.25*held {
		t.Errorf("charged %.0f bytes of bookkeeping per entry for %.0f kept", charged, held)
	}
}

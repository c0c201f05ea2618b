// Package gctune keeps the Go garbage collector's headroom, how far the heap may grow
// past its live data before the next collection, near a fixed number of bytes instead
// of GOGC's default 100% of the live heap. A cache is mostly live data: with GOGC=100
// a proxy holding 1 GiB of objects may reach 2 GiB before it collects, though the
// garbage its requests make depends on its request rate, not on how much it stores.
//
// Start watches the live heap and sets the GC percent to headroom/live, within
// [MinPercent, 100]: small heaps keep Go's default, large ones get the fixed headroom,
// and never less than MinPercent so that collection work stays bounded however large
// the heap. An operator who sets GOGC or GOMEMLIMIT has chosen; Start then does nothing.
package gctune

import (
	"os"
	"runtime/debug"
	"runtime/metrics"
	"sync"
	"time"
)

// MinPercent is the lowest GC percent Start sets: at it a collection runs each time
// the heap grows by a tenth of its live data, so GC work per byte allocated is at most
// ten times Go's default.
const MinPercent = 10

// step is the smallest change in percent Start applies: debug.SetGCPercent recomputes
// the pacer, and the live heap moves a little with every collection.
const step = 5

// interval is how often the live heap is read; reading it costs microseconds.
const interval = 100 * time.Millisecond

// Percent returns the GC percent that gives a live heap of live bytes about headroom
// bytes of room, within [MinPercent, 100].
func Percent(live, headroom int64) int {
	if live <= 0 || headroom >= live {
		return 100
	}
	return int(max(MinPercent, 100*headroom/live))
}

// Enabled reports whether Start would tune: headroom is positive and the environment
// sets neither GOGC nor GOMEMLIMIT.
func Enabled(headroom int64) bool {
	return headroom > 0 && os.Getenv("GOGC") == "" && os.Getenv("GOMEMLIMIT") == ""
}

// Start tunes the GC percent until stop is called, which restores the percent that
// was in effect before. It does nothing when !Enabled(headroom).
func Start(headroom int64) (stop func()) {
	if !Enabled(headroom) {
		return func() {}
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	previous := debug.SetGCPercent(100)
	go func() {
		defer wg.Done()
		sample := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
		current := 100
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			metrics.Read(sample)
			if sample[0].Value.Kind() == metrics.KindUint64 {
				p := Percent(int64(sample[0].Value.Uint64()), headroom)
				if p >= current+step || p <= current-step || (p != current && (p == 100 || p == MinPercent)) {
					debug.SetGCPercent(p)
					current = p
				}
			}
			select {
			case <-done:
				return
			case <-t.C:
			}
		}
	}()
	var once sync.Once
	return func() {
		once.Do(func() {
			close(done)
			wg.Wait()
			debug.SetGCPercent(previous)
		})
	}
}

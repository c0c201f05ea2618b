package proxy

import (
	"net/http"
	"net/http/httptest"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/caching-proxy/caching-proxy/internal/bench"
	"github.com/caching-proxy/caching-proxy/internal/policy"
)

// BenchmarkHitsBesideTagPurges measures what 1,000 tag purges a second cost a hit
// load. Every P serves fresh 1 KiB hits on 1,000 hot keys without pause; the run
// alternates phases of phase length with and without a purger goroutine, which purges
// by tag 1,000 times a second: each purge drops one of 10,000 cold tagged entries,
// which is stored again at once (the refill its next request would make). The hot
// entries carry tags too, so the index is as large as in production. Comparing
// adjacent phases, rather than two separate runs, keeps a busy machine's drift out of
// the figure. Each iteration is one pair of phases (in alternating order); ratio is
// the median over pairs of hits/s with purges over hits/s without, and cpu-ratio the
// same per CPU-second used (the target for both: 0.9 or more).
//
//	go test -run '^$' -bench HitsBesideTagPurges -benchtime 20x -count 3 ./internal/proxy/
func BenchmarkHitsBesideTagPurges(b *testing.B) {
	const (
		size  = 1 << 10
		hot   = 1000
		cold  = 10_000
		rate  = 1000
		phase = 500 * time.Millisecond
		// purgers share the rate, so that one purge held up by the scheduler does not
		// make the rate fall short.
		purgers = 4
	)
	body := bench.Body(size)
	h := newBenchHandler(b, newMemOrigin(body))
	for i := range hot {
		warmHit(b, h, httptest.NewRequest(http.MethodGet, "/hot/"+strconv.Itoa(i), nil), size)
	}
	hdr := bench.Header(body, bench.Cacheable)
	d, _ := policy.ParseResponse(hdr)
	coldEntry := func(i int) *entry {
		ch := hdr.Clone()
		ch.Set("Surrogate-Key", "cold-"+strconv.Itoa(i)+" cold-all")
		now := time.Now()
		return newEntry("", http.StatusOK, ch, body, policy.Assess(http.StatusOK, ch, d, now, now), http.Header{})
	}
	for i := range cold {
		h.put("/cold/"+strconv.Itoa(i), coldEntry(i))
	}
	if got := len(h.store.KeysWithTag("cold-all")); got < cold/2 {
		b.Fatalf("%d cold entries indexed, want most of %d", got, cold)
	}

	stop := make(chan struct{})
	var wg sync.WaitGroup
	var hits, misses, purged atomic.Int64
	var purging atomic.Bool
	workers := runtime.GOMAXPROCS(0)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			reqs := make([]*http.Request, hot)
			for i := range reqs {
				reqs[i] = httptest.NewRequest(http.MethodGet, "/hot/"+strconv.Itoa(i), nil)
			}
			w := newBenchWriter()
			for i := 0; ; i++ {
				if i%64 == 0 {
					select {
					case <-stop:
						return
					default:
					}
				}
				w.reset()
				h.ServeHTTP(w, reqs[i%hot])
				if w.h.Get("X-Cache") != "HIT" {
					misses.Add(1)
				}
				if i%16 == 15 {
					hits.Add(16)
				}
			}
		}()
	}
	purger := func(g int, wake chan time.Time) {
		defer wg.Done()
		every := time.Second / (rate / purgers)
		next := time.Now()
		for i := g; ; {
			if !purging.Load() { // idle without waking up, as a proxy with no purges is
				select {
				case <-stop:
					return
				case start := <-wake:
					// Keep the schedule from the phase's start, catching up on the
					// time it took to wake up, so the phase gets its full rate.
					next = start.Add(time.Duration(g) * every / purgers)
				}
				continue
			}
			select {
			case <-stop:
				return
			case <-time.After(time.Until(next)):
			}
			next = next.Add(every)
			n := i % cold
			h.Purge(Purge{Tags: []string{"cold-" + strconv.Itoa(n)}})
			e := coldEntry(n) // the refill, without the wait a request's fill makes
			h.store.SetTagged("/cold/"+strconv.Itoa(n), e, time.Hour, h.tagsOf(e))
			purged.Add(1)
			i += purgers
		}
	}
	// The purgers: rate a second between them while purging is on.
	wakes := make([]chan time.Time, purgers)
	for g := range purgers {
		wake := make(chan time.Time, 1)
		wakes[g] = wake
		wg.Add(1)
		go purger(g, wake)
	}
	// On a machine shared with other processes, more runnable threads win a larger share
	// of the CPU, which would flatter the phases with purgers. So each phase also counts
	// hits per CPU-second the process used (getrusage): the cost of purges as the hit
	// load sees it on a machine of its own.
	cpu := func() time.Duration {
		var ru syscall.Rusage
		_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
		return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	var perCPU [2]float64 // hits per CPU-second: without, with
	measure := func(on bool) (hitsPerS, purgesPerS float64) {
		h0, p0, t0, c0 := hits.Load(), purged.Load(), time.Now(), cpu()
		purging.Store(on)
		for _, wake := range wakes {
			if on {
				select {
				case wake <- t0:
				default:
				}
			}
		}
		time.Sleep(phase)
		el, used, got := time.Since(t0).Seconds(), (cpu() - c0).Seconds(), float64(hits.Load()-h0)
		if on {
			perCPU[1] += got / used
		} else {
			perCPU[0] += got / used
		}
		return got / el, float64(purged.Load()-p0) / el
	}
	var ratios []float64
	var with, without, rateOn float64
	for i := 0; b.Loop(); i++ {
		var on, off, pr float64
		if i%2 == 0 {
			off, _ = measure(false)
			on, pr = measure(true)
		} else {
			on, pr = measure(true)
			off, _ = measure(false)
		}
		ratios = append(ratios, on/off)
		with, without, rateOn = with+on, without+off, rateOn+pr
	}
	close(stop)
	wg.Wait()
	n := float64(len(ratios))
	slices.Sort(ratios)
	b.ReportMetric(ratios[len(ratios)/2], "ratio")
	b.ReportMetric(perCPU[1]/perCPU[0], "cpu-ratio")
	b.ReportMetric(without/n, "hits/s-without")
	b.ReportMetric(with/n, "hits/s-with")
	b.ReportMetric(rateOn/n, "purges/s")
	b.ReportMetric(float64(misses.Load()), "hot-misses")
}

// BenchmarkTagPurge is the CPU cost of one tag purge that drops one of 10,000 tagged
// entries, and of storing that entry again; 1,000 a second cost that much per second
// of one core.
//
//	go test -run '^$' -bench TagPurge -benchmem ./internal/proxy/
func BenchmarkTagPurge(b *testing.B) {
	const cold = 10_000
	body := bench.Body(1 << 10)
	h := newBenchHandler(b, newMemOrigin(body))
	hdr := bench.Header(body, bench.Cacheable)
	d, _ := policy.ParseResponse(hdr)
	entries := make([]*entry, cold)
	for i := range entries {
		ch := hdr.Clone()
		ch.Set("Surrogate-Key", "cold-"+strconv.Itoa(i)+" cold-all")
		now := time.Now()
		entries[i] = newEntry("", http.StatusOK, ch, body, policy.Assess(http.StatusOK, ch, d, now, now), http.Header{})
		h.put("/cold/"+strconv.Itoa(i), entries[i])
	}
	b.ReportAllocs()
	dropped := int64(0)
	for i := 0; b.Loop(); i++ {
		n := i % cold
		dropped += h.Purge(Purge{Tags: []string{"cold-" + strconv.Itoa(n)}}).Entries
		h.put("/cold/"+strconv.Itoa(n), entries[n])
	}
	b.ReportMetric(float64(dropped)/float64(b.N), "entries/purge")
}

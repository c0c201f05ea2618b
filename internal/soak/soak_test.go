// Package soak drives the proxy in-process, behind a real listener, with minutes of mixed
// load against a faulty origin, and fails when goroutines or heap outgrow stated bounds.
// It has tests only: `make soak` runs TestSoak; TestSoakSmoke runs in every `go test`.
package soak

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/caching-proxy/caching-proxy/internal/metrics"
	"github.com/caching-proxy/caching-proxy/internal/proxy"
	"github.com/prometheus/client_golang/prometheus"
)

var soak = flag.Bool("soak", false, "run TestSoak (SOAK_DURATION, default 2m, clamped to 2m..5m)")

// The bounds a run must stay within, after load stops and idle connections close.
const (
	cacheBudget     = 64 << 20
	goroutineSlack  = 50       // more goroutines than before the load
	heapSlack       = 32 << 20 // heap growth beyond the cache budget
	keys            = 10_000   // Zipf-distributed key set
	workers         = 32
	bodyTimeout     = 250 * time.Millisecond // what a hanging origin body meets
	originHangLimit = 3 * time.Second        // a hang ends by itself after this at the latest
)

func TestSoak(t *testing.T) {
	if !*soak {
		t.Skip("multi-minute soak; run with -soak (make soak)")
	}
	d := 2 * time.Minute
	if s := os.Getenv("SOAK_DURATION"); s != "" {
		v, err := time.ParseDuration(s)
		if err != nil {
			t.Fatalf("SOAK_DURATION=%q: %v", s, err)
		}
		d = min(max(v, 2*time.Minute), 5*time.Minute)
	}
	runSoak(t, d)
}

// TestSoakSmoke is the same run for 5s, so the harness itself stays working.
func TestSoakSmoke(t *testing.T) {
	if *soak {
		t.Skip("TestSoak runs instead")
	}
	runSoak(t, 5*time.Second)
}

// counts is a set of named counters safe for concurrent use.
type counts struct {
	mu sync.Mutex
	m  map[string]int64
}

func (c *counts) add(k string) {
	c.mu.Lock()
	if c.m == nil {
		c.m = map[string]int64{}
	}
	c.m[k]++
	c.mu.Unlock()
}

func (c *counts) String() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	names := make([]string, 0, len(c.m))
	for k := range c.m {
		names = append(names, k)
	}
	sort.Strings(names)
	var b strings.Builder
	for _, k := range names {
		fmt.Fprintf(&b, " %s=%d", k, c.m[k])
	}
	return strings.TrimSpace(b.String())
}

func (c *counts) get(k string) int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.m[k]
}

// bodyOf is the deterministic body of key id: 1 to 64 KiB, naming its key first so a
// client can tell one key's body from another's.
func bodyOf(id int) []byte {
	size := 1<<10 + (id*7919)%(63<<10)
	b := make([]byte, size)
	n := copy(b, "key="+strconv.Itoa(id)+";")
	for i := n; i < size; i++ {
		b[i] = byte('a' + id%26)
	}
	return b
}

func etagOf(id int) string { return `"` + strconv.Itoa(id) + `"` }

// faultyOrigin answers /k/<id>: 5% 503, 2% a body that hangs, 2% a body cut by a reset,
// else every tenth key no-store and the others cacheable for 2 to 30 seconds, with an
// ETag that a conditional request gets a 304 for.
func faultyOrigin(served *counts) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		id, err := strconv.Atoi(strings.TrimPrefix(r.URL.Path, "/k/"))
		if err != nil {
			http.NotFound(w, r)
			return
		}
		if r.Method == http.MethodPost {
			served.add("post")
			w.Header().Set("Cache-Control", "no-store")
			return
		}
		body := bodyOf(id)
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		switch p := rand.Float64(); {
		case p < 0.05:
			served.add("503")
			w.Header().Del("Content-Length")
			http.Error(w, "busy", http.StatusServiceUnavailable)
			return
		case p < 0.07:
			served.add("hang")
			w.Header().Set("Cache-Control", "max-age=30")
			_, _ = w.Write(body[:len(body)/2])
			w.(http.Flusher).Flush()
			select {
			case <-r.Context().Done(): // the proxy's body timeout gave up on us
			case <-time.After(originHangLimit):
			}
			return
		case p < 0.09:
			served.add("reset")
			c, buf, err := w.(http.Hijacker).Hijack()
			if err != nil {
				return
			}
			fmt.Fprintf(buf, "HTTP/1.1 200 OK\r\nCache-Control: max-age=30\r\nContent-Length: %d\r\n\r\n", len(body))
			if r.Method != http.MethodHead { // a body after a HEAD response would be a framing error, not this fault
				_, _ = buf.Write(body[:len(body)/2])
			}
			_ = buf.Flush()
			_ = c.(*net.TCPConn).SetLinger(0)
			c.Close()
			return
		case id%10 == 0:
			served.add("no-store")
			w.Header().Set("Cache-Control", "no-store")
		case r.Header.Get("If-None-Match") == etagOf(id):
			served.add("304")
			w.Header().Del("Content-Length")
			w.Header().Set("Cache-Control", "max-age="+strconv.Itoa(2+id%29))
			w.Header().Set("ETag", etagOf(id))
			w.WriteHeader(http.StatusNotModified)
			return
		default:
			served.add("cacheable")
			w.Header().Set("Cache-Control", "max-age="+strconv.Itoa(2+id%29))
			w.Header().Set("ETag", etagOf(id))
		}
		_, _ = w.Write(body)
	}
}

type snapshot struct {
	goroutines int
	heap       uint64 // HeapAlloc after a GC
}

func measure() snapshot {
	runtime.GC()
	runtime.GC() // the second finishes sweeping what finalizers freed
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return snapshot{runtime.NumGoroutine(), ms.HeapAlloc}
}

func runSoak(t *testing.T, d time.Duration) {
	served := &counts{}
	origin := httptest.NewServer(faultyOrigin(served))
	defer origin.Close()
	u, _ := url.Parse(origin.URL)

	st, err := proxy.NewStore(cacheBudget)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	reg := prometheus.NewRegistry()
	tr := proxy.NewTransport(proxy.TransportOptions{ResponseHeaderTimeout: 2 * time.Second, BodyTimeout: bodyTimeout})
	h := proxy.New(proxy.Options{
		Origin: u, Store: st, Metrics: metrics.New(reg, st.Stats), Transport: tr,
		MaxObjectSize: 1 << 20, StaleIfError: time.Minute,
		Logger: slog.New(slog.DiscardHandler),
	})
	front := httptest.NewServer(h)
	defer front.Close()
	ctr := &http.Transport{MaxIdleConnsPerHost: workers * 2}
	client := &http.Client{Transport: ctr, Timeout: 10 * time.Second}

	before := measure()
	start := time.Now()
	deadline := start.Add(d)
	seen := &counts{}
	var requests, corrupt atomic.Int64
	var firstCorrupt atomic.Value
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(start.UnixNano()), uint64(w)))
			zipf := rand.NewZipf(rng, 1.1, 1, keys-1)
			for time.Now().Before(deadline) {
				requests.Add(1)
				id := int(zipf.Uint64())
				outcome, bad := request(client, front.URL, id, rng)
				seen.add(outcome)
				if bad != "" {
					corrupt.Add(1)
					firstCorrupt.CompareAndSwap(nil, bad)
				}
			}
		}()
	}
	wg.Wait()
	took := time.Since(start)

	// Let the last hangs end and idle connections close, then measure again.
	ctr.CloseIdleConnections()
	tr.CloseIdleConnections()
	settle := time.Now().Add(originHangLimit + 10*time.Second)
	after := measure()
	for after.goroutines > before.goroutines+5 && time.Now().Before(settle) {
		time.Sleep(100 * time.Millisecond)
		ctr.CloseIdleConnections()
		tr.CloseIdleConnections()
		after = measure()
	}

	stats := st.Stats()
	t.Logf("soak: %v, %d workers, %d requests (%.0f/s), %d keys Zipf s=1.1, cache budget %d MiB",
		took.Round(time.Second), workers, requests.Load(), float64(requests.Load())/took.Seconds(), keys, cacheBudget>>20)
	t.Logf("client outcomes: %s", seen)
	t.Logf("origin behaviours: %s", served)
	t.Logf("proxy: %s", proxyCounters(reg))
	t.Logf("store: %d entries, %.1f MiB, %d evicted, %d rejected", stats.Entries, float64(stats.Bytes)/(1<<20), stats.Evicted, stats.Rejected)
	t.Logf("goroutines: %d before, %d after (bound +%d); heap: %.1f MiB before, %.1f MiB after (bound +%d MiB)",
		before.goroutines, after.goroutines, goroutineSlack,
		float64(before.heap)/(1<<20), float64(after.heap)/(1<<20), (cacheBudget+heapSlack)>>20)

	if n := corrupt.Load(); n > 0 {
		t.Errorf("%d responses had the wrong body; first: %v", n, firstCorrupt.Load())
	}
	if after.goroutines > before.goroutines+goroutineSlack {
		buf := make([]byte, 1<<20)
		t.Errorf("goroutines grew from %d to %d, bound +%d\n%s", before.goroutines, after.goroutines, goroutineSlack, buf[:runtime.Stack(buf, true)])
	}
	if after.heap > before.heap+cacheBudget+heapSlack {
		t.Errorf("heap grew from %d to %d bytes, bound +%d", before.heap, after.heap, cacheBudget+heapSlack)
	}
	if seen.get("ok") == 0 || seen.get("hit") == 0 {
		t.Errorf("no successful or cached responses at all: %s", seen)
	}
}

// request sends one request and classifies what came back. bad describes a body that
// is not the key's (a cache mix-up); it is empty otherwise.
func request(c *http.Client, base string, id int, rng *rand.Rand) (outcome, bad string) {
	method, abort := http.MethodGet, false
	switch p := rng.Float64(); {
	case p < 0.05:
		abort = true // the client goes away mid-body
	case p < 0.08:
		method = http.MethodHead
	case p < 0.09:
		method = http.MethodPost
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, method, base+"/k/"+strconv.Itoa(id), nil)
	resp, err := c.Do(req)
	if err != nil {
		return "error", ""
	}
	defer resp.Body.Close()
	if abort {
		_, _ = io.ReadFull(resp.Body, make([]byte, 512))
		cancel()
		return "aborted", ""
	}
	body, err := io.ReadAll(resp.Body)
	switch {
	case err != nil:
		return "broken", ""
	case resp.StatusCode != http.StatusOK:
		return strconv.Itoa(resp.StatusCode), ""
	case method != http.MethodGet:
		return strings.ToLower(method), ""
	}
	if want := bodyOf(id); string(body) != string(want) {
		return "corrupt", fmt.Sprintf("/k/%d: %d bytes starting %q, want %d starting %q",
			id, len(body), body[:min(len(body), 16)], len(want), want[:16])
	}
	if resp.Header.Get("X-Cache") == "HIT" {
		return "hit", ""
	}
	return "ok", ""
}

// proxyCounters renders the proxy's request and origin counters.
func proxyCounters(reg *prometheus.Registry) string {
	mfs, err := reg.Gather()
	if err != nil {
		return err.Error()
	}
	var parts []string
	for _, mf := range mfs {
		switch mf.GetName() {
		case "caching_proxy_requests_total", "caching_proxy_origin_requests_total":
			short := strings.TrimSuffix(strings.TrimPrefix(mf.GetName(), "caching_proxy_"), "_total")
			for _, m := range mf.Metric {
				parts = append(parts, fmt.Sprintf("%s{%s}=%.0f", short, m.Label[0].GetValue(), m.Counter.GetValue()))
			}
		}
	}
	return strings.Join(parts, " ")
}

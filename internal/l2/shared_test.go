package l2_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/caching-proxy/caching-proxy/internal/l2"
	"github.com/caching-proxy/caching-proxy/internal/l2/redistest"
	"github.com/caching-proxy/caching-proxy/internal/metrics"
	"github.com/caching-proxy/caching-proxy/internal/proxy"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// These tests run replicas of the proxy, each with its own in-memory store, against
// one real redis-server, as `caching-proxy start --redis-url` wires them.

// origin counts the GETs and the other requests reaching it. A GET is fresh for a
// minute; under /vary/ it varies on Accept-Encoding.
type origin struct {
	*httptest.Server
	gets, others atomic.Int64
}

func newOrigin(t *testing.T) *origin {
	t.Helper()
	o := &origin{}
	o.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet {
			o.others.Add(1)
			_, _ = io.WriteString(w, "done")
			return
		}
		n := o.gets.Add(1)
		w.Header().Set("Cache-Control", "max-age=60")
		if strings.HasPrefix(r.URL.Path, "/vary/") {
			w.Header().Set("Vary", "Accept-Encoding")
		}
		_, _ = io.WriteString(w, r.URL.RequestURI()+" #"+strconv.FormatInt(n, 10))
	}))
	t.Cleanup(o.Close)
	return o
}

// backends are the Redis set-ups the shared-tier tests run against.
var backends = []struct {
	name  string
	start func(t *testing.T) string // returns --redis-url
}{
	{"single", func(t *testing.T) string { return redistest.Start(t).URL() }},
	{"cluster", func(t *testing.T) string { return redistest.StartCluster(t).URL() }},
}

// eachBackend runs test as a subtest against each backend.
func eachBackend(t *testing.T, test func(t *testing.T, redisURL string)) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) { test(t, b.start(t)) })
	}
}

// replica is one proxy process: handler, local store, metrics and shared tier.
type replica struct {
	*httptest.Server
	h    *proxy.Handler
	tier *l2.Tier
	m    *metrics.Metrics

	leaseExpired  prometheus.Counter
	clears        atomic.Int64 // OnClear calls
	invalidations atomic.Int64 // OnInvalidate calls
}

// testTimeout is the tiers' Timeout in tests that are not about it: generous, so a
// loaded CI machine does not take a tier down in the middle of a test.
const testTimeout = 500 * time.Millisecond

func newReplica(t *testing.T, redisURL, originURL string, tweak ...func(*l2.Options)) *replica {
	t.Helper()
	u, err := url.Parse(originURL)
	if err != nil {
		t.Fatal(err)
	}
	st, err := proxy.NewStore(64 << 20)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.Close)
	r := &replica{m: metrics.New(prometheus.NewRegistry(), st.Stats)}
	r.leaseExpired = r.m.L2LeaseExpired
	var h atomic.Pointer[proxy.Handler] // the tier exists before the handler
	opt := l2.Options{
		URL:     redisURL,
		Timeout: testTimeout,
		Hits:    r.m.L2Hits,
		Misses:  r.m.L2Misses,
		Errors:  r.m.L2Errors,
		Up:      r.m.L2Up,
		Logger:  testLogger(t),

		LeaseExpired: r.leaseExpired,
		OnInvalidate: func(keys []string) {
			if h := h.Load(); h != nil {
				h.DropLocal(keys...)
			}
			r.invalidations.Add(1)
		},
		OnClear: func() {
			if h := h.Load(); h != nil {
				h.Clear()
			}
			r.clears.Add(1)
		},
	}
	for _, f := range tweak {
		f(&opt)
	}
	r.tier, err = l2.New(context.Background(), opt)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = r.tier.Close() })
	r.h = proxy.New(proxy.Options{Origin: u, Store: st, Metrics: r.m, Shared: r.tier, Logger: testLogger(t)})
	h.Store(r.h)
	r.Server = httptest.NewServer(r.h)
	t.Cleanup(r.Close)
	return r
}

// ready waits until the replica's subscription is up: it drops local copies once
// when it subscribes, so its OnClear count is at least 1. New waits for that itself
// when Redis answers, but for a second at most (TestNewReturnsListening); ready
// waits longer, for a loaded machine.
func (r *replica) ready(t *testing.T) *replica {
	t.Helper()
	waitFor(t, "the replica to subscribe to cp:events", func() bool { return r.clears.Load() >= 1 })
	return r
}

// do sends one request through the replica and returns its X-Cache and body.
func (r *replica) do(t *testing.T, method, path string, header http.Header) (xcache, body string) {
	t.Helper()
	req, err := http.NewRequest(method, r.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := r.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("%s %s: status %d, want 200; body %q", method, path, resp.StatusCode, b)
	}
	return resp.Header.Get("X-Cache"), string(b)
}

func (r *replica) get(t *testing.T, path string) string {
	t.Helper()
	xcache, _ := r.do(t, http.MethodGet, path, nil)
	return xcache
}

func TestSharedHit(t *testing.T) { eachBackend(t, testSharedHit) }

func testSharedHit(t *testing.T, redisURL string) {
	for _, tt := range []struct {
		name, path string
		header     http.Header
	}{
		{"short key", "/a?x=1", nil},
		{"long key, hashed in Redis", "/long?q=" + strings.Repeat("q", 500), nil},
		{"varying response, index and variant", "/vary/b", http.Header{"Accept-Encoding": {"gzip"}}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			o := newOrigin(t)
			a, b := newReplica(t, redisURL, o.URL), newReplica(t, redisURL, o.URL)
			if got, _ := a.do(t, http.MethodGet, tt.path, tt.header); got != "MISS" {
				t.Fatalf("first GET through A: X-Cache %q, want MISS", got)
			}
			a.tier.Wait()
			got, body := b.do(t, http.MethodGet, tt.path, tt.header)
			if got != "HIT" || !strings.HasSuffix(body, "#1") {
				t.Errorf("GET through B: X-Cache %q, body %q, want HIT, A's response", got, body)
			}
			if n := o.gets.Load(); n != 1 {
				t.Errorf("origin saw %d GETs, want 1", n)
			}
			if n := testutil.ToFloat64(b.m.L2Hits); n < 1 {
				t.Errorf("B's l2 hits = %v, want at least 1", n)
			}
		})
	}
}

// TestNewReturnsListening: a tier that reaches Redis returns from New subscribed, with
// its first drop of local copies (pub/sub is at most once) behind it, so what the
// replica stores from its first request on is not emptied moments later.
func TestNewReturnsListening(t *testing.T) {
	rs := redistest.Start(t)
	o := newOrigin(t)
	r := newReplica(t, rs.URL(), o.URL)
	if n := r.clears.Load(); n != 1 {
		t.Fatalf("OnClear calls when New returned = %d, want 1 (the first subscription)", n)
	}
	r.get(t, "/n")
	r.tier.Wait()
	time.Sleep(100 * time.Millisecond) // room for a late drop, which must not come
	if got := r.get(t, "/n"); got != "HIT" || r.clears.Load() != 1 {
		t.Errorf("second GET: X-Cache %q, OnClear calls %d; want HIT and still 1", got, r.clears.Load())
	}
}

func TestClearReachesEveryReplica(t *testing.T) { eachBackend(t, testClearReachesEveryReplica) }

func testClearReachesEveryReplica(t *testing.T, redisURL string) {
	o := newOrigin(t)
	a, b := newReplica(t, redisURL, o.URL).ready(t), newReplica(t, redisURL, o.URL).ready(t)
	a.get(t, "/c")
	a.tier.Wait()
	if got := b.get(t, "/c"); got != "HIT" { // B holds a local copy now
		t.Fatalf("GET through B before the clear: X-Cache %q, want HIT", got)
	}

	before, gen := b.clears.Load(), a.tier.Gen()
	// What the admin endpoint does on A: clear the shared tier, then the local store.
	if err := a.tier.Clear(); err != nil {
		t.Fatal(err)
	}
	a.h.Clear()
	waitFor(t, "B to hear of the clear", func() bool { return b.clears.Load() > before })

	if a.tier.Gen() != gen+1 || b.tier.Gen() != gen+1 {
		t.Errorf("generations after the clear: A %d, B %d, want %d", a.tier.Gen(), b.tier.Gen(), gen+1)
	}
	if got := b.get(t, "/c"); got != "MISS" {
		t.Errorf("GET through B after the clear: X-Cache %q, want MISS", got)
	}
	if n := o.gets.Load(); n != 2 {
		t.Errorf("origin saw %d GETs, want 2", n)
	}
	b.tier.Wait() // B's fresh copy is shared in the new generation
	if got := a.get(t, "/c"); got != "HIT" {
		t.Errorf("GET through A after B refetched: X-Cache %q, want HIT", got)
	}
}

func TestUnsafeMethodInvalidatesEveryReplica(t *testing.T) {
	eachBackend(t, testUnsafeMethodInvalidatesEveryReplica)
}

func testUnsafeMethodInvalidatesEveryReplica(t *testing.T, redisURL string) {
	o := newOrigin(t)
	a, b := newReplica(t, redisURL, o.URL).ready(t), newReplica(t, redisURL, o.URL).ready(t)
	a.get(t, "/p")
	a.tier.Wait()
	if got := b.get(t, "/p"); got != "HIT" {
		t.Fatalf("GET through B before the POST: X-Cache %q, want HIT", got)
	}

	before := b.invalidations.Load()
	a.do(t, http.MethodPost, "/p", nil)
	waitFor(t, "B to hear of the invalidation", func() bool { return b.invalidations.Load() > before })

	if got := b.get(t, "/p"); got != "MISS" {
		t.Errorf("GET through B after the POST: X-Cache %q, want MISS", got)
	}
	if n := o.gets.Load(); n != 2 {
		t.Errorf("origin saw %d GETs, want 2", n)
	}
}

func TestRedisDownAndBack(t *testing.T) {
	rs := redistest.Start(t)
	o := newOrigin(t)
	a, b := newReplica(t, rs.URL(), o.URL).ready(t), newReplica(t, rs.URL(), o.URL).ready(t)
	a.get(t, "/k")
	a.tier.Wait()

	rs.Stop()
	if got := a.get(t, "/k"); got != "HIT" {
		t.Errorf("GET of a local copy with Redis down: X-Cache %q, want HIT", got)
	}
	if got := a.get(t, "/new"); got != "MISS" {
		t.Errorf("GET of a new URL with Redis down: X-Cache %q, want MISS", got)
	}
	waitFor(t, "l2_up to go 0", func() bool { return testutil.ToFloat64(a.m.L2Up) == 0 })
	if n := testutil.ToFloat64(a.m.L2Errors); n < 1 {
		t.Errorf("l2 errors with Redis down = %v, want at least 1", n)
	}
	if got := a.get(t, "/new"); got != "HIT" {
		t.Errorf("second GET of the new URL: X-Cache %q, want HIT (local store)", got)
	}

	rs.Restart() // same port, empty
	for _, r := range []*replica{a, b} {
		waitFor(t, "l2_up to go 1", func() bool { return testutil.ToFloat64(r.m.L2Up) == 1 })
	}
	a.get(t, "/after")
	a.tier.Wait()
	if got := b.get(t, "/after"); got != "HIT" {
		t.Errorf("GET through B once Redis is back: X-Cache %q, want HIT", got)
	}
	if n := o.gets.Load(); n != 3 {
		t.Errorf("origin saw %d GETs, want 3 (/k, /new, /after)", n)
	}
}

func TestOldFormatEntryIsAMiss(t *testing.T) {
	rs := redistest.Start(t)
	o := newOrigin(t)
	a := newReplica(t, rs.URL(), o.URL)
	c := redisClient(t, rs)
	long := "/long?" + strings.Repeat("l", 300)
	for path, stored := range map[string]string{
		"/v0":      "CP\x00\x00\x00",     // an older codec version
		"/v9":      "CP\x09future-stuff", // a newer one
		"/garbage": "\x00\xff not an entry",
		"/empty":   "",
		long:       "CP\x01unframed", // under a hashed key, without the full key in front
	} {
		if err := c.Set(context.Background(), l2.RedisKey(a.tier.Gen(), path), stored, time.Minute).Err(); err != nil {
			t.Fatal(err)
		}
		before := o.gets.Load()
		if got, body := a.do(t, http.MethodGet, path, nil); got != "MISS" || !strings.HasPrefix(body, path) {
			t.Errorf("GET %.20s over %q in Redis: X-Cache %q, body %.30q, want MISS from the origin", path, stored, got, body)
		}
		if o.gets.Load() != before+1 {
			t.Errorf("GET %.20s: the origin was not asked", path)
		}
	}
}

func TestSlowRedisDoesNotHoldRequests(t *testing.T) {
	rs := redistest.Start(t)
	o := newOrigin(t)
	a := newReplica(t, rs.URL(), o.URL, func(o *l2.Options) { o.Timeout = 0 }) // the default
	a.get(t, "/s")
	a.tier.Wait()
	a.h.Clear() // so the next GET asks Redis
	waitFor(t, "l2_up to be 1", func() bool { return testutil.ToFloat64(a.m.L2Up) == 1 })

	const pause = 3 * time.Second
	if err := redisClient(t, rs).Do(context.Background(), "CLIENT", "PAUSE", pause.Milliseconds(), "ALL").Err(); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{"/s", "/s2", "/s3"} {
		start := time.Now()
		if got := a.get(t, path); got != "MISS" {
			t.Errorf("GET %s with Redis paused: X-Cache %q, want MISS", path, got)
		}
		if took := time.Since(start); took > pause/3 {
			t.Errorf("GET %s with Redis paused took %v, want well under the %v pause (the timeout is %v)", path, took, pause, l2.DefaultTimeout)
		}
	}
	if n := testutil.ToFloat64(a.m.L2Errors); n < 1 {
		t.Errorf("l2 errors with Redis paused = %v, want at least 1", n)
	}
	waitFor(t, "l2_up to come back after the pause", func() bool { return testutil.ToFloat64(a.m.L2Up) == 1 })
}

// waitFor polls cond until it holds, failing t after 10 seconds.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// testLogger sends logs to t.Log, so they show only for failing tests (or with -v).
// Once t is done they are dropped: go-redis keeps the last tier's logger for the process.
func testLogger(t *testing.T) *slog.Logger {
	w := &tWriter{t: t}
	t.Cleanup(func() {
		w.mu.Lock()
		w.done = true
		w.mu.Unlock()
	})
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type tWriter struct {
	t    *testing.T
	mu   sync.Mutex
	done bool
}

func (w *tWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.done {
		w.t.Log(strings.TrimSuffix(string(p), "\n"))
	}
	return len(p), nil
}

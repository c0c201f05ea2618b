package proxy

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
	"time"

	"github.com/caching-proxy/caching-proxy/internal/bench"
	"github.com/caching-proxy/caching-proxy/internal/metrics"
	"github.com/prometheus/client_golang/prometheus"
)

// The hit path in-process: Handler.ServeHTTP answering a warm, fresh entry into a
// writer that discards, next to a plain handler writing the same body and fields.
// Each request gets a new header map, copied at WriteHeader, as net/http does, so B/op
// and allocs/op include that map and its copy (and their growth past 8 fields) but not
// net/http's other per-request costs. See docs/performance.md.
//
//	go test -run '^$' -bench . -benchmem ./internal/proxy/

// benchWriter is a ResponseWriter that keeps the status and a byte count, and copies
// the header at WriteHeader as net/http does (the handler may change its map after).
type benchWriter struct {
	h, sent http.Header
	code    int
	n       int
}

func newBenchWriter() *benchWriter { return &benchWriter{h: make(http.Header)} }

func (w *benchWriter) Header() http.Header  { return w.h }
func (w *benchWriter) WriteHeader(code int) { w.code, w.sent = code, w.h.Clone() }
func (w *benchWriter) Write(p []byte) (int, error) {
	if w.code == 0 {
		w.WriteHeader(http.StatusOK)
	}
	w.n += len(p)
	return len(p), nil
}

// reset prepares w for the next response: a new header map, as net/http's
// response has (make(http.Header), no size hint).
func (w *benchWriter) reset() {
	w.h = make(http.Header)
	w.code, w.n = 0, 0
}

// memOrigin is an in-memory origin answering every request with body and the plain
// handler's fields; paths under bench.NoStorePrefix are no-store.
type memOrigin struct {
	body             []byte
	cacheable, never http.Header
}

// newMemOrigin returns an origin sending what the plain handler sends through
// net/http, which adds Date: so a hit carries 9 fields, as it does in production.
func newMemOrigin(body []byte) *memOrigin {
	o := &memOrigin{body: body, cacheable: bench.Header(body, bench.Cacheable), never: bench.Header(body, bench.NoStore)}
	date := time.Now().UTC().Format(http.TimeFormat)
	o.cacheable["Date"], o.never["Date"] = []string{date}, []string{date}
	return o
}

func (o *memOrigin) RoundTrip(req *http.Request) (*http.Response, error) {
	h := o.cacheable
	if len(req.URL.Path) >= len(bench.NoStorePrefix) && req.URL.Path[:len(bench.NoStorePrefix)] == bench.NoStorePrefix {
		h = o.never
	}
	return &http.Response{
		StatusCode: http.StatusOK, Status: "200 OK", Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: h.Clone(), Body: io.NopCloser(bytes.NewReader(o.body)), ContentLength: int64(len(o.body)),
		Request: req,
	}, nil
}

func newBenchHandler(b *testing.B, origin http.RoundTripper) *Handler {
	b.Helper()
	st, err := NewStore(64 << 20)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(st.Close)
	u, _ := url.Parse("http://origin.test")
	return New(Options{Origin: u, Store: st, Metrics: metrics.New(prometheus.NewRegistry(), st.Stats), Transport: origin})
}

// warmHit fills the cache for path and checks the next request is a hit.
func warmHit(b *testing.B, h *Handler, req *http.Request, size int) {
	b.Helper()
	w := newBenchWriter()
	h.ServeHTTP(w, req) // miss: fetched and stored
	w.reset()
	h.ServeHTTP(w, req)
	if got := w.h.Get("X-Cache"); got != "HIT" || w.code != http.StatusOK || w.n != size {
		b.Fatalf("warm-up: X-Cache %q, status %d, %d bytes; want HIT, 200, %d bytes", got, w.code, w.n, size)
	}
}

func benchHit(b *testing.B, size int) {
	body := bench.Body(size)
	h := newBenchHandler(b, newMemOrigin(body))
	req := httptest.NewRequest(http.MethodGet, "/bench/hit", nil)
	warmHit(b, h, req, size)
	w := serveLoop(b, h, req, size)
	if w.h.Get("X-Cache") != "HIT" || w.n != size {
		b.Fatalf("last request: X-Cache %q, %d bytes; want HIT, %d bytes", w.h.Get("X-Cache"), w.n, size)
	}
}

// serveLoop serves req with h for each iteration, a new response each time, and
// returns the writer of the last one.
func serveLoop(b *testing.B, h http.Handler, req *http.Request, size int) *benchWriter {
	w := newBenchWriter()
	b.SetBytes(int64(size))
	b.ReportAllocs()
	for b.Loop() {
		w.reset()
		h.ServeHTTP(w, req)
	}
	return w
}

func BenchmarkHit1KiB(b *testing.B)   { benchHit(b, 1<<10) }
func BenchmarkHit100KiB(b *testing.B) { benchHit(b, 100<<10) }

// BenchmarkHit1KiBParallel shows whether hits on one key serialize anywhere (store,
// metrics): with -cpu 1,2 its ns/op should halve.
func BenchmarkHit1KiBParallel(b *testing.B) {
	const size = 1 << 10
	h := newBenchHandler(b, newMemOrigin(bench.Body(size)))
	warmHit(b, h, httptest.NewRequest(http.MethodGet, "/bench/hit", nil), size)
	b.SetBytes(size)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		req := httptest.NewRequest(http.MethodGet, "/bench/hit", nil)
		w := newBenchWriter()
		for pb.Next() {
			w.reset()
			h.ServeHTTP(w, req)
		}
	})
}

// BenchmarkPlainHandler1KiB is the baseline for BenchmarkHit1KiB: the same body and
// fields written by a plain handler from memory.
func BenchmarkPlainHandler1KiB(b *testing.B) { benchPlain(b, 1<<10) }

// BenchmarkPlainHandler100KiB is the baseline for BenchmarkHit100KiB.
func BenchmarkPlainHandler100KiB(b *testing.B) { benchPlain(b, 100<<10) }

func benchPlain(b *testing.B, size int) {
	h := bench.Handler(bench.Body(size), 0)
	w := serveLoop(b, h, httptest.NewRequest(http.MethodGet, "/bench/hit", nil), size)
	if w.n != size {
		b.Fatalf("wrote %d bytes, want %d", w.n, size)
	}
}

// BenchmarkMissPassThrough is an uncacheable (no-store) GET through the whole
// forwarding path: lookup, hit-for-miss check, ReverseProxy, the Transport's
// storability check, and the relay of the body, from an in-memory origin.
func BenchmarkMissPassThrough(b *testing.B) {
	const size = 1 << 10
	h := newBenchHandler(b, newMemOrigin(bench.Body(size)))
	req := httptest.NewRequest(http.MethodGet, bench.NoStorePrefix+"a", nil)
	w := newBenchWriter()
	h.ServeHTTP(w, req) // the first one leads a flight and marks the key hit-for-miss
	b.SetBytes(size)
	b.ReportAllocs()
	for b.Loop() {
		w.reset()
		h.ServeHTTP(w, req)
	}
	if got := w.h.Get("Cache-Status"); w.n != size || got != Name+"; fwd=miss; detail=no-store" {
		b.Fatalf("last request: Cache-Status %q, %d bytes; want fwd=miss; detail=no-store, %d bytes", got, w.n, size)
	}
}

// BenchmarkPassThroughLoopback is BenchmarkMissPassThrough against a real origin on
// loopback through the origin client (NewTransport), so the client's work is in it;
// so is the origin's, which runs in the same process.
func BenchmarkPassThroughLoopback(b *testing.B) {
	const size = 1 << 10
	o := httptest.NewServer(bench.Handler(bench.Body(size), 0))
	defer o.Close()
	tr := NewTransport(TransportOptions{})
	defer tr.CloseIdleConnections()
	st, err := NewStore(64 << 20)
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	u, _ := url.Parse(o.URL)
	h := New(Options{Origin: u, Store: st, Metrics: metrics.New(prometheus.NewRegistry(), st.Stats), Transport: tr})
	req := httptest.NewRequest(http.MethodGet, bench.NoStorePrefix+"a", nil)
	w := newBenchWriter()
	h.ServeHTTP(w, req)
	b.SetBytes(size)
	b.ReportAllocs()
	for b.Loop() {
		w.reset()
		h.ServeHTTP(w, req)
	}
	if w.n != size {
		b.Fatalf("last request: %d bytes, want %d", w.n, size)
	}
}

package proxy

import (
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"

	"github.com/caching-proxy/caching-proxy/internal/accesslog"
	"github.com/caching-proxy/caching-proxy/internal/bench"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// The hit path with the access log on (JSON to a file) and with tracing on (every
// span recorded in memory), against BenchmarkHit1KiB with both off:
//
//	go test -run '^$' -bench 'Hit1KiB' -benchmem ./internal/proxy/
func BenchmarkHit1KiBAccessLog(b *testing.B) {
	l, err := accesslog.Open(filepath.Join(b.TempDir(), "access.log"), accesslog.Options{Format: accesslog.JSON})
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	benchObservedHit(b, func(h *Handler) { h.opt.AccessLog = l })
	if l.Dropped() != 0 {
		b.Logf("%d lines dropped", l.Dropped())
	}
}

func BenchmarkHit1KiBTracing(b *testing.B) {
	tp := sdktrace.NewTracerProvider() // spans sampled and ended, exported nowhere
	benchObservedHit(b, func(h *Handler) { h.tracer = tp.Tracer(Name) })
}

func benchObservedHit(b *testing.B, on func(*Handler)) {
	const size = 1 << 10
	h := newBenchHandler(b, newMemOrigin(bench.Body(size)))
	on(h)
	req := httptest.NewRequest(http.MethodGet, "/bench/hit", nil)
	warmHit(b, h, req, size)
	serveLoop(b, h, req, size)
}

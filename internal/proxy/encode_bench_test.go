package proxy

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/caching-proxy/caching-proxy/internal/bench"
	"github.com/caching-proxy/caching-proxy/internal/compress"
)

// BenchmarkHitText is a hit on a stored text response with --compress on, served as
// identity and as each stored copy: choosing the copy (parsing Accept-Encoding) is all
// a hit adds, and the copy's fewer bytes are what it saves.
//
//	go test -run '^$' -bench HitText -benchmem ./internal/proxy/
func BenchmarkHitText(b *testing.B) {
	for _, size := range []int{1 << 10, 100 << 10} {
		text := bench.Text(size)
		o := newMemOrigin(text)
		o.cacheable["Content-Type"] = []string{bench.TextType}
		h := newBenchHandler(b, o)
		types, _ := compress.ParseTypes([]string{"text/*"})
		h.opt.Compression = &Compression{Types: types, MinSize: 1024}
		h.codec = compress.New()
		warmHit(b, h, httptest.NewRequest(http.MethodGet, "/text/x", nil), size)
		for _, coding := range []string{"identity", "gzip", "br", "zstd"} {
			req := httptest.NewRequest(http.MethodGet, "/text/x", nil)
			req.Header.Set("Accept-Encoding", coding)
			name := coding + "/" + map[int]string{1 << 10: "1KiB", 100 << 10: "100KiB"}[size]
			b.Run(name, func(b *testing.B) {
				w := serveLoop(b, h, req, size)
				want := coding
				if coding == "identity" {
					want = ""
				}
				if got := w.sent.Get("Content-Encoding"); got != want || w.h.Get("X-Cache") != "HIT" {
					b.Fatalf("Content-Encoding %q, X-Cache %q; want %q, HIT", got, w.h.Get("X-Cache"), want)
				}
				b.ReportMetric(float64(w.n), "body-bytes")
			})
		}
	}
}

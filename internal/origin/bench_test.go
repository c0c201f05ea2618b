package origin

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/caching-proxy/caching-proxy/internal/bench"
)

// BenchmarkRoundTrip1KiB is one GET and its 1 KiB body over a kept-alive loopback
// connection to a net/http origin in the same process (so ns/op includes the origin);
// -cpuprofile with -focus 'origin\.' shows the client's own share.
//
//	go test -run '^$' -bench RoundTrip -benchmem ./internal/origin/
func BenchmarkRoundTrip1KiB(b *testing.B) {
	s := httptest.NewServer(bench.Handler(bench.Body(1<<10), 0))
	defer s.Close()
	for _, tc := range []struct {
		name string
		rt   http.RoundTripper
	}{
		{"origin", New(Options{})},
		{"net-http", &http.Transport{DisableCompression: true}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			req, _ := http.NewRequest(http.MethodGet, s.URL+bench.NoStorePrefix+"x", nil)
			b.ReportAllocs()
			for b.Loop() {
				resp, err := tc.rt.RoundTrip(req)
				if err != nil {
					b.Fatal(err)
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
		})
	}
}

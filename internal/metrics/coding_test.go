package metrics

import (
	"strings"
	"testing"

	"github.com/caching-proxy/caching-proxy/internal/store"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestCodingMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := New(reg, func() store.Stats { return store.Stats{} })
	m.Served("br", 100)
	m.Served("deflate", 7) // an origin's coding we do not make: "other"
	m.Served("gzip", 0)
	m.Compressed("zstd", 1000, 250)
	m.Compressed("identity", 5, 5) // not a copy: ignored
	want := `
# HELP caching_proxy_compression_ratio Identity bytes per compressed byte over every copy stored since start (compress_input / compress_output), by coding; 0 before the first.
# TYPE caching_proxy_compression_ratio gauge
caching_proxy_compression_ratio{encoding="br"} 0
caching_proxy_compression_ratio{encoding="gzip"} 0
caching_proxy_compression_ratio{encoding="zstd"} 4
# HELP caching_proxy_served_bytes_total Body bytes of responses answered from the cache, by the content coding they were sent in.
# TYPE caching_proxy_served_bytes_total counter
caching_proxy_served_bytes_total{encoding="br"} 100
caching_proxy_served_bytes_total{encoding="gzip"} 0
caching_proxy_served_bytes_total{encoding="identity"} 0
caching_proxy_served_bytes_total{encoding="other"} 7
caching_proxy_served_bytes_total{encoding="zstd"} 0
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "caching_proxy_compression_ratio", "caching_proxy_served_bytes_total"); err != nil {
		t.Error(err)
	}
	if problems, err := testutil.GatherAndLint(reg); err != nil || len(problems) > 0 {
		t.Errorf("lint: %v %v", problems, err)
	}
}

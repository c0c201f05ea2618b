package metrics

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

// codings are the values of the "encoding" label: the content codings the proxy
// serves, and "other" for whatever else an origin sent.
var codings = [...]string{"identity", "gzip", "br", "zstd", "other"}

// codingMetrics count what compression does: body bytes served from the cache by
// content coding, and the bytes going into and out of the compressor per coding.
type codingMetrics struct {
	served      [len(codings)]prometheus.Counter
	compressIn  [len(codings)]prometheus.Counter
	compressOut [len(codings)]prometheus.Counter
}

func (m *Metrics) registerCodings(f promauto.Factory) {
	served := f.NewCounterVec(prometheus.CounterOpts{
		Name: "caching_proxy_served_bytes_total",
		Help: "Body bytes of responses answered from the cache, by the content coding they were sent in.",
	}, []string{"encoding"})
	in := f.NewCounterVec(prometheus.CounterOpts{
		Name: "caching_proxy_compress_input_bytes_total",
		Help: "Identity bytes compressed into stored copies, by the coding they were compressed to.",
	}, []string{"encoding"})
	out := f.NewCounterVec(prometheus.CounterOpts{
		Name: "caching_proxy_compress_output_bytes_total",
		Help: "Bytes of the compressed copies stored, by coding.",
	}, []string{"encoding"})
	for i, c := range codings {
		m.codings.served[i] = served.WithLabelValues(c)
		if c == "identity" || c == "other" {
			continue
		}
		m.codings.compressIn[i] = in.WithLabelValues(c)
		m.codings.compressOut[i] = out.WithLabelValues(c)
		f.NewGaugeFunc(prometheus.GaugeOpts{
			Name:        "caching_proxy_compression_ratio",
			Help:        "Identity bytes per compressed byte over every copy stored since start (compress_input / compress_output), by coding; 0 before the first.",
			ConstLabels: prometheus.Labels{"encoding": c},
		}, func() float64 {
			o := counterValue(m.codings.compressOut[i])
			if o == 0 {
				return 0
			}
			return counterValue(m.codings.compressIn[i]) / o
		})
	}
}

func codingIndex(c string) int {
	for i, x := range codings {
		if x == c {
			return i
		}
	}
	return len(codings) - 1
}

// Served counts n body bytes answered from the cache in content coding c.
func (m *Metrics) Served(c string, n int) {
	if n > 0 {
		m.codings.served[codingIndex(c)].Add(float64(n))
	}
}

// Compressed counts one stored copy: in identity bytes made into out bytes of coding c.
func (m *Metrics) Compressed(c string, in, out int) {
	if i := codingIndex(c); m.codings.compressIn[i] != nil {
		m.codings.compressIn[i].Add(float64(in))
		m.codings.compressOut[i].Add(float64(out))
	}
}

// ServedCounter is the served-bytes counter of coding c, for tests.
func (m *Metrics) ServedCounter(c string) prometheus.Counter { return m.codings.served[codingIndex(c)] }

// CompressInputCounter is the compressor's input counter of coding c, for tests.
func (m *Metrics) CompressInputCounter(c string) prometheus.Counter {
	return m.codings.compressIn[codingIndex(c)]
}

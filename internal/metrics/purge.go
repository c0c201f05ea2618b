package metrics

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

// Purge kinds and modes: the label values of caching_proxy_purges_total.
var (
	purgeKinds = [...]string{"url", "prefix", "tag", "group"}
	purgeModes = [...]string{"hard", "soft"}
)

// purges counts targeted invalidations, resolved by index as the request counters are.
type purges struct {
	byKind  [len(purgeKinds)][len(purgeModes)]prometheus.Counter
	entries prometheus.Counter
}

func newPurges(f promauto.Factory) purges {
	vec := f.NewCounterVec(prometheus.CounterOpts{
		Name: "caching_proxy_purges_total",
		Help: "Targeted invalidations made through this replica, by kind (url, prefix, tag, group) and mode (hard, soft); one per URL, prefix, tag or group named.",
	}, []string{"kind", "mode"})
	p := purges{entries: f.NewCounter(prometheus.CounterOpts{
		Name: "caching_proxy_purged_entries_total",
		Help: "Stored responses that purges made through this replica deleted or marked stale in its local store.",
	})}
	for i, k := range purgeKinds {
		for j, m := range purgeModes {
			p.byKind[i][j] = vec.WithLabelValues(k, m)
		}
	}
	return p
}

// Purge counts one purge of kind ("url", "prefix", "tag", "group") and mode ("hard",
// "soft"); anything else counts as a hard tag purge.
func (m *Metrics) Purge(kind, mode string) {
	i, j := 2, 0
	for n, k := range purgeKinds {
		if k == kind {
			i = n
		}
	}
	if mode == "soft" {
		j = 1
	}
	m.purges.byKind[i][j].Inc()
}

// PurgedEntries counts stored responses a purge deleted or marked stale.
func (m *Metrics) PurgedEntries(n int64) {
	if n > 0 {
		m.purges.entries.Add(float64(n))
	}
}

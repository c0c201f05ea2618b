// Package l2 is the cache tier the proxy's replicas share: their encoded entries in
// Redis or Valkey (one server, a Sentinel-managed master, or a Cluster), under keys
// scoped by a generation number that a clear bumps, and a pub/sub channel that tells
// every replica to drop its local copies when one of them invalidates keys or
// clears. It never holds up a request: lookups, invalidations and fill leases have a
// short deadline, writes are queued and dropped when the queue is full, and while a
// server does not answer every lookup of its keys is a miss. What the stored bytes
// mean is the proxy's business. docs/l2.md describes the whole scheme.
package l2

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
)

// Options configure a Tier. Zero values are documented per field.
type Options struct {
	// URL is required. Its scheme decides the mode: redis://[user:password@]host:port/db,
	// rediss://..., unix://... for one server; redis+cluster://host:port?addr=host2:port
	// (rediss+cluster) for a Cluster; redis+sentinel://sentinel:26379?addr=...&master_name=NAME
	// for Sentinel. valkey, valkeys, valkey+cluster, ... are aliases.
	URL     string
	Timeout time.Duration // deadline of a lookup, an invalidation, a lease and a health probe; 0 means 50ms

	// LeaseTime is how long a fill lease holds at most (SET NX PX): other replicas
	// missing the same key wait up to this long for the holder's entry. 0 means 3s.
	LeaseTime time.Duration
	// MaxValueSize bounds a value once decompressed; a larger (or hostile) one is a
	// miss, and no more than this is allocated to find out. 0 means 8 MiB.
	MaxValueSize int64

	Hits   prometheus.Counter // lookups Redis answered; nil means not counted
	Misses prometheus.Counter // lookups it did not have, or skipped while it is down; nil means not counted
	Errors prometheus.Counter // failed or timed-out calls to Redis; nil means not counted
	Up     prometheus.Gauge   // 1 while Redis answers (a cluster: any master), else 0; nil means not reported
	// LeaseExpired counts fill leases that expired before their holder released
	// them (its origin fetch took longer than LeaseTime); nil means not counted.
	LeaseExpired prometheus.Counter

	Logger *slog.Logger // nil means slog.Default()

	// OnInvalidate is called with the keys any replica (this one too) invalidated,
	// to drop local copies of them. nil means ignore.
	OnInvalidate func(keys []string)
	// OnClear is called when any replica (this one too) cleared the cache, and
	// whenever this one may have missed such news: each time the subscription
	// (re)connects and when the generation changed behind its back. It should drop
	// every local copy. nil means ignore.
	OnClear func()
	// OnPurge is called with a targeted purge another replica made (this one's own
	// are applied by its caller), to apply it to local copies; it returns the keys it
	// dropped, which the tier then deletes from Redis too, behind this replica's own
	// queued writes. nil means ignore.
	OnPurge func(Purge) (dropped []string)
}

// DefaultTimeout bounds each call on the request path, so a slow Redis costs a
// request at most this much before it is a miss.
const DefaultTimeout = 50 * time.Millisecond

const (
	refreshEvery = time.Second     // re-read the generation; also the health probe
	startTimeout = time.Second     // the first probe may dial and handshake
	minWriteTime = time.Second     // queued writes hold up no request, so they may take longer
	queueSize    = 1024            // writes waiting for Redis; more are dropped
	queueBytes   = 32 << 20        // value bytes waiting for Redis; more are dropped
	batchSize    = 64              // writes sent in one pipeline, at most
	batchBytes   = 1 << 20         // a pipeline stops taking writes past this many value bytes
	pingEvery    = 3 * time.Second // a quiet subscription is pinged this often
	maxPending   = 1024            // invalidations remembered while Redis is down
	downAfter    = 3               // failed calls in a row that take a node down
)

// Tier is the shared cache tier. Its methods are safe for concurrent use.
type Tier struct {
	opt          Options
	mode         mode
	rdb          redis.UniversalClient
	log          *slog.Logger
	writeTimeout time.Duration
	codec        *codec

	ctx    context.Context // ends at Close
	cancel context.CancelFunc
	wg     sync.WaitGroup

	gen        generation
	ready      atomic.Bool                  // the generation was read at least once: keys can be named
	nodes      nodes                        // each server's own judgement of whether it answers
	up         atomic.Int32                 // 1 while some server answers
	judgeMu    sync.Mutex                   // judge's, so a change is logged once
	judged     bool                         // the state was logged at least once
	subscribed atomic.Bool                  // to log changes
	lostSub    atomic.Bool                  // the subscription was lost at least once
	ps         atomic.Pointer[redis.PubSub] // the current subscription, for Close
	listening  chan struct{}                // closed once the first subscription is made
	listenOnce sync.Once
	queue      chan op
	queued     atomic.Int64 // value bytes in queue
	pending    pending
	purges     purgeState
}

// New connects to Redis as opt.URL says. Only a malformed URL is an error: when
// Redis does not answer, the tier starts down (every lookup a miss) and comes up by
// itself once it does. ctx bounds the first probe only; Close stops the tier.
// go-redis's own logging, which is process-wide, goes to opt.Logger at debug level.
func New(ctx context.Context, opt Options) (*Tier, error) {
	if opt.Timeout <= 0 {
		opt.Timeout = DefaultTimeout
	}
	// Deadlines come from each call's context: short on the request path, longer for
	// queued writes. The socket timeouts (the URL's dial_timeout, read_timeout and
	// write_timeout, else a second) cap what has no deadline, such as a handshake.
	ep, err := dial(opt.URL, max(opt.Timeout, minWriteTime))
	if err != nil {
		return nil, err
	}
	if opt.LeaseTime <= 0 {
		opt.LeaseTime = defaultLeaseTime
	}
	if opt.MaxValueSize <= 0 {
		opt.MaxValueSize = 8 << 20
	}
	for _, c := range []*prometheus.Counter{&opt.Hits, &opt.Misses, &opt.Errors, &opt.LeaseExpired} {
		if *c == nil {
			*c = prometheus.NewCounter(prometheus.CounterOpts{Name: "unused"})
		}
	}
	if opt.Up == nil {
		opt.Up = prometheus.NewGauge(prometheus.GaugeOpts{Name: "unused"})
	}
	if opt.Logger == nil {
		opt.Logger = slog.Default()
	}
	if opt.OnInvalidate == nil {
		opt.OnInvalidate = func([]string) {}
	}
	if opt.OnClear == nil {
		opt.OnClear = func() {}
	}
	t := &Tier{
		opt:          opt,
		mode:         ep.mode,
		rdb:          ep.client,
		log:          opt.Logger.With(ep.attrs...),
		writeTimeout: max(opt.Timeout, minWriteTime),
		codec:        newCodec(opt.MaxValueSize),
		queue:        make(chan op, queueSize),
		listening:    make(chan struct{}),
	}
	t.nodes.init(t)
	t.ctx, t.cancel = context.WithCancel(context.Background())
	t.opt.Up.Set(0)
	redis.SetLogger(redisLog{t.log})

	pctx, cancel := context.WithTimeout(ctx, max(opt.Timeout, startTimeout))
	defer cancel()
	_, err = t.refresh(pctx)
	switch {
	case err == nil:
	case t.mode == cluster: // the other masters may answer; the tier is of use once cp:gen is read
		t.log.Warn("shared cache tier down: the generation (cp:gen) cannot be read yet; lookups are misses until it can", "err", err)
	default:
		t.nodes.only.markDown(err) // at once: the proxy starts and serves without it
	}

	t.wg.Add(3)
	go t.work()
	go t.refreshLoop()
	go t.listen()
	if err == nil {
		// Pub/sub is at most once, so the first subscription drops every local copy
		// (OnClear): wait for it, within the same bound, so the replica does not begin
		// serving and filling its local store only to empty it moments later.
		select {
		case <-t.listening:
		case <-pctx.Done():
		}
	}
	return t, nil
}

// Close stops the tier: queued writes not yet sent are dropped.
func (t *Tier) Close() error {
	t.cancel()
	if ps := t.ps.Load(); ps != nil {
		_ = ps.Close() // ends a Receive in progress
	}
	t.wg.Wait()
	return t.rdb.Close()
}

// usable reports whether the tier may be asked at all: it knows the generation, and
// some server answers. Whether the server holding a given key answers is the
// business of that key's node.
func (t *Tier) usable() bool { return t.ready.Load() && t.up.Load() == 1 && t.ctx.Err() == nil }

// setUp records whether any server answers, for the Up gauge and usable.
func (t *Tier) setUp(up bool) {
	v := int32(0)
	if up {
		v = 1
	}
	if t.up.Swap(v) != v {
		t.opt.Up.Set(float64(v))
	}
}

// isReply reports whether err is an error reply from Redis, rather than a failure to get one.
func isReply(err error) bool {
	var re redis.Error
	return errors.As(err, &re)
}

// redisLog takes go-redis's own messages, such as a line per failed dial, down to
// debug: the tier logs its state changes itself. go-redis has one logger per process.
type redisLog struct{ l *slog.Logger }

func (r redisLog) Printf(ctx context.Context, format string, v ...any) {
	r.l.DebugContext(ctx, "go-redis: "+fmt.Sprintf(format, v...))
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

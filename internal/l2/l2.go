// Package l2 is the cache tier the proxy's replicas share: their encoded entries in
// Redis (or Valkey), under keys scoped by a generation number that a clear bumps, and
// a pub/sub channel that tells every replica to drop its local copies when one of
// them invalidates keys or clears. It never holds up a request: lookups and
// invalidations have a short deadline, writes are queued and dropped when the queue
// is full, and while Redis does not answer every lookup is a miss. What the stored
// bytes mean is the proxy's business. docs/l2.md describes the whole scheme.
package l2

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
)

// Options configure a Tier. Zero values are documented per field.
type Options struct {
	URL     string        // required: redis://[user:password@]host:port/db, rediss://..., or unix://
	Timeout time.Duration // deadline of a lookup, an invalidation and a health probe; 0 means 50ms

	Hits   prometheus.Counter // lookups Redis answered; nil means not counted
	Misses prometheus.Counter // lookups it did not have, or skipped while it is down; nil means not counted
	Errors prometheus.Counter // failed or timed-out calls to Redis; nil means not counted
	Up     prometheus.Gauge   // 1 while Redis answers, else 0; nil means not reported

	Logger *slog.Logger // nil means slog.Default()

	// OnInvalidate is called with the keys any replica (this one too) invalidated,
	// to drop local copies of them. nil means ignore.
	OnInvalidate func(keys []string)
	// OnClear is called when any replica (this one too) cleared the cache, and
	// whenever this one may have missed such news: each time the subscription
	// (re)connects and when the generation changed behind its back. It should drop
	// every local copy. nil means ignore.
	OnClear func()
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
	downAfter    = 3               // failed calls in a row that take the tier down
)

// Tier is the shared cache tier. Its methods are safe for concurrent use.
type Tier struct {
	opt          Options
	rdb          *redis.Client
	log          *slog.Logger
	writeTimeout time.Duration

	ctx    context.Context // ends at Close
	cancel context.CancelFunc
	wg     sync.WaitGroup

	gen        generation
	state      atomic.Int32                 // stateUnknown, stateUp or stateDown
	failures   atomic.Int32                 // calls failed in a row
	subscribed atomic.Bool                  // to log changes
	lostSub    atomic.Bool                  // the subscription was lost at least once
	ps         atomic.Pointer[redis.PubSub] // the current subscription, for Close
	listening  chan struct{}                // closed once the first subscription is made
	listenOnce sync.Once
	queue      chan op
	queued     atomic.Int64 // value bytes in queue
	pending    pending
}

const (
	stateUnknown int32 = iota
	stateUp
	stateDown
)

// New connects to the Redis at opt.URL. Only a malformed URL is an error: when Redis
// does not answer, the tier starts down (every lookup a miss) and comes up by itself
// once it does. ctx bounds the first probe only; Close stops the tier. go-redis's
// own logging, which is process-wide, goes to opt.Logger at debug level.
func New(ctx context.Context, opt Options) (*Tier, error) {
	if _, err := url.Parse(opt.URL); err != nil {
		return nil, errors.New("--redis-url: not a URL") // url.Error would repeat a password
	}
	ro, err := redis.ParseURL(opt.URL)
	if err != nil {
		return nil, fmt.Errorf("--redis-url: %w", err)
	}
	if opt.Timeout <= 0 {
		opt.Timeout = DefaultTimeout
	}
	// Deadlines come from each call's context: short on the request path, longer for
	// queued writes. The socket timeouts (the URL's dial_timeout, read_timeout and
	// write_timeout, else a second) cap what has no deadline, such as a handshake.
	ro.ContextTimeoutEnabled = true
	for _, d := range []*time.Duration{&ro.DialTimeout, &ro.ReadTimeout, &ro.WriteTimeout} {
		if *d == 0 {
			*d = max(opt.Timeout, minWriteTime)
		}
	}
	ro.DialerRetries = 1 // one dial per call: the probe tries again every second
	for _, c := range []*prometheus.Counter{&opt.Hits, &opt.Misses, &opt.Errors} {
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
		rdb:          redis.NewClient(ro),
		log:          opt.Logger.With("redis", ro.Addr, "db", ro.DB),
		writeTimeout: max(opt.Timeout, minWriteTime),
		queue:        make(chan op, queueSize),
		listening:    make(chan struct{}),
	}
	t.ctx, t.cancel = context.WithCancel(context.Background())
	t.opt.Up.Set(0)
	redis.SetLogger(redisLog{t.log})

	pctx, cancel := context.WithTimeout(ctx, max(opt.Timeout, startTimeout))
	defer cancel()
	_, err = t.refresh(pctx)
	if err != nil {
		t.markDown(err) // at once: the proxy starts and serves without it
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

func (t *Tier) up() bool { return t.state.Load() == stateUp }

// markUp records that Redis answered; it reports whether the tier was not up before.
func (t *Tier) markUp() bool {
	if t.state.Swap(stateUp) == stateUp {
		return false
	}
	t.opt.Up.Set(1)
	t.log.Info("shared cache tier up")
	return true
}

// markDown records that Redis does not answer; lookups are misses until a probe succeeds.
func (t *Tier) markDown(err error) {
	if t.state.Swap(stateDown) == stateDown {
		return
	}
	t.opt.Up.Set(0)
	t.log.Warn("shared cache tier down: lookups are misses until Redis answers", "err", err)
}

// fail counts a failed call. downAfter calls in a row that Redis did not answer
// (refused, reset, timed out) take the tier down: one slow moment does not, and a
// Redis that stopped answering costs a few requests Timeout each, then nothing. A
// reply such as OOM on a SET is no sign of that.
func (t *Tier) fail(err error) {
	t.opt.Errors.Inc()
	if !isReply(err) && t.failures.Add(1) >= downAfter {
		t.markDown(err)
	}
}

// answered records a call Redis answered.
func (t *Tier) answered() { t.failures.Store(0) }

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

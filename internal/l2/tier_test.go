package l2_test

import (
	"context"
	"github.com/caching-proxy/caching-proxy/internal/l2/redistest"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/caching-proxy/caching-proxy/internal/l2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/redis/go-redis/v9"
)

// events records what a tier told its replica.
type events struct {
	mu     sync.Mutex
	keys   [][]string
	clears int
}

func (e *events) options(t *testing.T, url string) l2.Options {
	return l2.Options{
		URL:     url,
		Timeout: testTimeout,
		Logger:  testLogger(t),
		OnInvalidate: func(keys []string) {
			e.mu.Lock()
			e.keys = append(e.keys, keys)
			e.mu.Unlock()
		},
		OnClear: func() {
			e.mu.Lock()
			e.clears++
			e.mu.Unlock()
		},
	}
}

func (e *events) invalidated(keys ...string) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return slices.ContainsFunc(e.keys, func(got []string) bool { return slices.Equal(got, keys) })
}

func (e *events) cleared() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.clears
}

func newTier(t *testing.T, opt l2.Options) *l2.Tier {
	t.Helper()
	tier, err := l2.New(context.Background(), opt)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tier.Close() })
	return tier
}

func TestNewRejectsBadURL(t *testing.T) {
	for _, u := range []string{"http://127.0.0.1:6379", "redis://127.0.0.1:6379/x", "redis://u:secret@127.0.0.1:6379/%zz", "::"} {
		_, err := l2.New(context.Background(), l2.Options{URL: u})
		if err == nil || !strings.Contains(err.Error(), "--redis-url") {
			t.Errorf("New(%q) error = %v, want one naming --redis-url", u, err)
		}
		if err != nil && strings.Contains(err.Error(), "secret") {
			t.Errorf("New(%q) error = %v: it repeats the password", u, err)
		}
	}
}

func TestGetSetDel(t *testing.T) {
	rs := redistest.Start(t)
	var ev events
	tier := newTier(t, ev.options(t, rs.URL()))
	long := "/" + strings.Repeat("k", 1000)
	for _, key := range []string{"/a", long, "/v\x00nonce\x00gzip"} {
		if _, ok := tier.Get(key); ok {
			t.Errorf("Get(%.20q) before Set: hit", key)
		}
		tier.Set(key, []byte("value of "+key), time.Minute, true)
		tier.Wait()
		if got, ok := tier.Get(key); !ok || string(got) != "value of "+key {
			t.Errorf("Get(%.20q) = %.30q, %v, want the value set", key, got, ok)
		}
	}
	tier.Del("/a", long)
	for _, key := range []string{"/a", long} {
		if _, ok := tier.Get(key); ok {
			t.Errorf("Get(%.20q) after Del: hit", key)
		}
	}
	waitFor(t, "the invalidation to come back on cp:events", func() bool { return ev.invalidated("/a", long) })

	// The TTL is the retention the proxy asked for.
	tier.Set("/short", []byte("x"), 1500*time.Millisecond, true)
	tier.Wait()
	ttl, err := redisClient(t, rs).PTTL(context.Background(), l2.RedisKey(tier.Gen(), "/short")).Result()
	if err != nil || ttl <= 0 || ttl > 1500*time.Millisecond {
		t.Errorf("PTTL of a key set for 1.5s = %v, %v", ttl, err)
	}
}

func TestClearBumpsGeneration(t *testing.T) {
	rs := redistest.Start(t)
	var ev1, ev2 events
	t1, t2 := newTier(t, ev1.options(t, rs.URL())), newTier(t, ev2.options(t, rs.URL()))
	waitFor(t, "both tiers to subscribe", func() bool { return ev1.cleared() >= 1 && ev2.cleared() >= 1 })
	t1.Set("/a", []byte("old"), time.Minute, true)
	t1.Wait()
	before := ev2.cleared()

	if err := t1.Clear(); err != nil {
		t.Fatal(err)
	}
	if got := t1.Gen(); got != 1 {
		t.Errorf("generation after the first clear = %d, want 1", got)
	}
	if _, ok := t1.Get("/a"); ok {
		t.Errorf("Get after Clear: hit on the clearing tier")
	}
	waitFor(t, "the other tier to hear of the clear", func() bool { return ev2.cleared() > before })
	if _, ok := t2.Get("/a"); ok || t2.Gen() != 1 {
		t.Errorf("other tier after Clear: hit %v, generation %d, want a miss in generation 1", ok, t2.Gen())
	}
	// The old key is left to its TTL, not deleted: a clear costs one INCR.
	if n, _ := redisClient(t, rs).Exists(context.Background(), l2.RedisKey(0, "/a")).Result(); n != 1 {
		t.Errorf("old-generation key exists = %d, want 1 (it expires by its TTL)", n)
	}
}

// A clear the subscription missed still reaches a replica, at its next refresh.
func TestMissedClearSeenAtRefresh(t *testing.T) {
	rs := redistest.Start(t)
	var ev events
	tier := newTier(t, ev.options(t, rs.URL()))
	waitFor(t, "the tier to subscribe", func() bool { return ev.cleared() >= 1 })
	before := ev.cleared()
	if err := redisClient(t, rs).Incr(context.Background(), "cp:gen").Err(); err != nil { // no PUBLISH
		t.Fatal(err)
	}
	waitFor(t, "the refresh to see the new generation", func() bool { return tier.Gen() == 1 && ev.cleared() > before })
}

// Invalidations and a clear made while this replica could not reach Redis are done
// once it can: meanwhile the other replicas might have served what they drop.
func TestWorkDoneWhileDownIsReplayed(t *testing.T) {
	rs := redistest.Start(t)
	ln := newLink(t, rs.Addr())
	var ev events
	tier := newTier(t, ev.options(t, ln.URL()))
	tier.Set("/a", []byte("a"), time.Minute, true)
	tier.Set("/b", []byte("b"), time.Minute, true)
	tier.Wait()
	c := redisClient(t, rs)
	exists := func(key string) bool {
		n, _ := c.Exists(context.Background(), l2.RedisKey(0, key)).Result()
		return n == 1
	}

	sub := c.Subscribe(context.Background(), "cp:events") // what every other replica hears
	t.Cleanup(func() { _ = sub.Close() })
	if _, err := sub.Receive(context.Background()); err != nil { // the subscription's confirmation
		t.Fatal(err)
	}

	ln.cut()
	if _, ok := tier.Get("/a"); ok {
		t.Fatal("Get with Redis unreachable: hit")
	}
	tier.Del("/a")
	if !exists("/a") {
		t.Fatal("/a deleted through a cut link")
	}
	ln.restore()
	waitFor(t, "the remembered invalidation to be done", func() bool { return !exists("/a") })
	if msg, err := sub.ReceiveTimeout(context.Background(), 10*time.Second); err != nil {
		t.Errorf("no invalidation announced on cp:events: %v", err)
	} else if m, ok := msg.(*redis.Message); !ok || !strings.Contains(m.Payload, "/a") {
		t.Errorf("announced %v, want the invalidation of /a", msg)
	}
	if !exists("/b") {
		t.Error("/b is gone too, want only /a deleted")
	}

	ln.cut()
	waitFor(t, "the tier to notice", func() bool { _, ok := tier.Get("/b"); return !ok })
	if err := tier.Clear(); err == nil {
		t.Error("Clear with Redis unreachable: no error")
	}
	ln.restore()
	waitFor(t, "the remembered clear to be done", func() bool {
		g, _ := c.Get(context.Background(), "cp:gen").Int64()
		return g == 1 && tier.Gen() == 1
	})
}

func TestStartsWithoutRedis(t *testing.T) {
	hanging, err := net.Listen("tcp", "127.0.0.1:0") // accepts, never answers
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	t.Cleanup(func() {
		_ = hanging.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			_ = c.Close()
		}
	})
	go func() {
		for {
			c, err := hanging.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	for name, addr := range map[string]string{
		"nothing listening":   "127.0.0.1:" + strconv.Itoa(redistest.FreePort(t)),
		"listener that hangs": hanging.Addr().String(),
	} {
		t.Run(name, func(t *testing.T) {
			up := prometheus.NewGauge(prometheus.GaugeOpts{Name: "up"})
			errs := prometheus.NewCounter(prometheus.CounterOpts{Name: "errors"})
			opt := (&events{}).options(t, "redis://"+addr+"/0")
			opt.Up, opt.Errors = up, errs
			start := time.Now()
			tier := newTier(t, opt)
			if took := time.Since(start); took > 2*time.Second {
				t.Errorf("New took %v with Redis not answering", took)
			}
			if testutil.ToFloat64(up) != 0 || testutil.ToFloat64(errs) < 1 {
				t.Errorf("up %v, errors %v, want 0 and at least 1", testutil.ToFloat64(up), testutil.ToFloat64(errs))
			}
			start = time.Now()
			tier.Set("/a", []byte("a"), time.Minute, true)
			if _, ok := tier.Get("/a"); ok {
				t.Error("Get with Redis not answering: hit")
			}
			tier.Del("/a")
			if took := time.Since(start); took > 10*time.Millisecond {
				t.Errorf("Set, Get and Del took %v while the tier is down, want no wait", took)
			}
			start = time.Now()
			_ = tier.Close()
			if took := time.Since(start); took > 3*time.Second {
				t.Errorf("Close took %v", took)
			}
		})
	}
}

// TestLostGenerationIsPutBack: cp:gen evicted (or its server restarted empty) while
// entries of older generations remain. The tier must not go back to 0, which
// would make entries cleared long ago reachable again: it writes its own number back.
func TestLostGenerationIsPutBack(t *testing.T) {
	rs := redistest.Start(t)
	var ev events
	tier := newTier(t, ev.options(t, rs.URL()))
	c := redisClient(t, rs)
	ctx := context.Background()
	if err := c.Set(ctx, l2.RedisKey(0, "/old"), "cleared long ago", time.Minute).Err(); err != nil {
		t.Fatal(err)
	}
	if err := tier.Clear(); err != nil {
		t.Fatal(err)
	}
	if err := c.Del(ctx, "cp:gen").Err(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "cp:gen to be put back", func() bool {
		g, err := c.Get(ctx, "cp:gen").Int64()
		return err == nil && g == 1
	})
	if g := tier.Gen(); g != 1 {
		t.Errorf("generation after cp:gen was lost = %d, want 1", g)
	}
	if v, ok := tier.Get("/old"); ok {
		t.Errorf("Get(/old) = %q: an entry of a cleared generation came back", v)
	}
	// A clear made while cp:gen is lost goes past the number the replica has seen.
	if err := c.Del(ctx, "cp:gen").Err(); err != nil {
		t.Fatal(err)
	}
	if err := tier.Clear(); err != nil {
		t.Fatal(err)
	}
	if g := tier.Gen(); g != 2 {
		t.Errorf("generation after a clear with cp:gen lost = %d, want 2", g)
	}
}

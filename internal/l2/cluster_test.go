package l2_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/caching-proxy/caching-proxy/internal/l2"
	"github.com/caching-proxy/caching-proxy/internal/l2/redistest"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/redis/go-redis/v9"
)

// TestClusterCommandsStayInOneSlot runs the whole tier against a cluster left at
// its defaults (cluster-require-full-coverage yes among them): fills, hits,
// hashed keys, variants, invalidations of several keys, a clear, fill leases and
// direct Dels. No command may touch keys of two slots or reach a master that
// does not hold its key: every master's error statistics must show no CROSSSLOT,
// MOVED, ASK, TRYAGAIN or CLUSTERDOWN afterwards.
func TestClusterCommandsStayInOneSlot(t *testing.T) {
	c := redistest.StartCluster(t)
	for _, m := range c.Masters {
		if err := c.Client(m).ConfigResetStat(context.Background()).Err(); err != nil {
			t.Fatal(err)
		}
	}
	o := newOrigin(t)
	a, b := newReplica(t, c.URL(), o.URL).ready(t), newReplica(t, c.URL(), o.URL).ready(t)
	paths := []string{"/vary/v", "/long?q=" + strings.Repeat("q", 300)}
	for i := range 60 {
		paths = append(paths, "/p/"+strconv.Itoa(i))
	}
	for _, p := range paths {
		a.do(t, http.MethodGet, p, http.Header{"Accept-Encoding": {"gzip"}})
	}
	a.tier.Wait()
	for _, p := range paths {
		if got, _ := b.do(t, http.MethodGet, p, http.Header{"Accept-Encoding": {"gzip"}}); got != "HIT" {
			t.Errorf("GET %s through B: X-Cache %q, want HIT", p, got)
		}
	}
	a.tier.Del(paths...) // one invalidation of keys on every master
	a.do(t, http.MethodPost, "/p/1", nil)
	coldBurst(t, []*replica{a, b}, "/cold", 10)
	if err := a.tier.Clear(); err != nil {
		t.Fatal(err)
	}
	a.get(t, "/p/2")
	a.tier.Wait()
	b.get(t, "/p/2")

	for _, m := range c.Masters {
		stats, err := c.Client(m).Info(context.Background(), "errorstats").Result()
		if err != nil {
			t.Fatal(err)
		}
		for _, bad := range []string{"CROSSSLOT", "MOVED", "ASK", "TRYAGAIN", "CLUSTERDOWN"} {
			if strings.Contains(stats, "errorstat_"+bad+":") {
				t.Errorf("master %s answered %s errors:\n%s", m.Addr(), bad, stats)
			}
		}
	}
}

// TestClusterSpreadsKeys: no hash tag puts the whole cache on one master.
func TestClusterSpreadsKeys(t *testing.T) {
	c := redistest.StartCluster(t)
	var ev events
	tier := newTier(t, ev.options(t, c.URL()))
	const n = 10_000
	for i := range n {
		tier.Set("/products/"+strconv.Itoa(i)+"?page=1", []byte("v"), time.Minute, false)
		if i%512 == 0 {
			tier.Wait() // the queue holds 1024: keep it from dropping writes
		}
	}
	tier.Wait()
	total := int64(0)
	counts := make([]int64, len(c.Masters))
	for i, m := range c.Masters {
		counts[i] = c.Client(m).DBSize(context.Background()).Val()
		total += counts[i]
	}
	if total < n {
		t.Fatalf("keys on the masters: %v, %d in all, want at least %d", counts, total, n)
	}
	for i, got := range counts {
		if got*5 < total {
			t.Errorf("master %s holds %d of %d keys (%.1f%%), want at least 20%%", c.Masters[i].Addr(), got, total, 100*float64(got)/float64(total))
		}
	}
	t.Logf("keys per master after %d writes: %v", n, counts)
}

// TestClusterMasterDown: a master that dies makes misses of its own slots only;
// the others keep hitting. The master killed is the one holding cp:gen, the worst
// case: the replicas keep the generation they have, and when it comes back empty
// they put cp:gen back rather than go back to 0, so nothing cleared returns. Once
// it has rejoined, its slots fill and hit again.
func TestClusterMasterDown(t *testing.T) {
	c := redistest.StartCluster(t, "--cluster-require-full-coverage", "no")
	o := newOrigin(t)
	a := newReplica(t, c.URL(), o.URL).ready(t)
	if err := a.tier.Clear(); err != nil { // generation 1: keys of 0 must stay unreachable
		t.Fatal(err)
	}
	b := newReplica(t, c.URL(), o.URL).ready(t) // its local store stays empty until the kill
	waitFor(t, "both replicas in generation 1", func() bool { return a.tier.Gen() == 1 && b.tier.Gen() == 1 })

	victim := c.MasterOf("cp:gen")
	var paths []string
	onVictim := map[string]bool{}
	for i := range 90 {
		p := "/k/" + strconv.Itoa(i)
		paths = append(paths, p)
		onVictim[p] = c.MasterOf(l2.RedisKey(1, p)) == victim
		a.get(t, p)
	}
	a.tier.Wait()

	victim.Stop()
	for _, p := range paths {
		want := "HIT"
		if onVictim[p] {
			want = "MISS"
		}
		if got := b.get(t, p); got != want {
			t.Errorf("GET %s through B with its master (%v on the dead one) down: X-Cache %q, want %s", p, onVictim[p], got, want)
		}
	}
	if up := testutil.ToFloat64(b.m.L2Up); up != 1 {
		t.Errorf("B's l2_up with one master of three down = %v, want 1", up)
	}

	victim.Restart() // same port and nodes.conf: it rejoins with its slots, empty
	c.WaitOK()
	waitFor(t, "cp:gen put back at 1", func() bool {
		g, err := c.Client(victim).Get(context.Background(), "cp:gen").Int64()
		return err == nil && g == 1
	})
	if a.tier.Gen() != 1 || b.tier.Gen() != 1 {
		t.Errorf("generations after the restart: A %d, B %d, want 1 (never backwards)", a.tier.Gen(), b.tier.Gen())
	}
	var again string
	for i := range 1000 { // a new key on the rejoined master
		p := "/again/" + strconv.Itoa(i)
		if c.MasterOf(l2.RedisKey(1, p)) == victim {
			again = p
			break
		}
	}
	waitFor(t, "a fill on A of the rejoined master's slots to hit on B", func() bool {
		a.get(t, again)
		a.tier.Wait()
		hit := b.get(t, again) == "HIT"
		if !hit {
			b.h.DropLocal(again)
		}
		return hit
	})
}

// TestSentinelFailover: the tier follows Sentinel when the master dies and the
// replica takes over.
func TestSentinelFailover(t *testing.T) {
	s := redistest.StartSentinel(t)
	o := newOrigin(t)
	a, b := newReplica(t, s.URL(), o.URL).ready(t), newReplica(t, s.URL(), o.URL).ready(t)
	a.get(t, "/before")
	a.tier.Wait()
	if got := b.get(t, "/before"); got != "HIT" {
		t.Fatalf("GET through B before the failover: X-Cache %q, want HIT", got)
	}

	s.Master.Stop()
	s.WaitFailover()
	i := 0
	waitFor(t, "a fill on A after the failover to hit on B", func() bool {
		i++
		p := "/after/" + strconv.Itoa(i)
		a.get(t, p)
		a.tier.Wait()
		return b.get(t, p) == "HIT"
	})
	before := b.clears.Load()
	if err := a.tier.Clear(); err != nil {
		t.Fatalf("clear after the failover: %v", err)
	}
	waitFor(t, "B to hear of the clear through the new master", func() bool { return b.clears.Load() > before })
	if n, err := redisClientAt(t, s.Replica.Addr()).Get(context.Background(), "cp:gen").Int64(); err != nil || n < 1 {
		t.Errorf("cp:gen on the new master = %d, %v, want the clear's generation", n, err)
	}
}

// TestOneOriginFetchAcrossTheFleet: 8 replicas, 50 concurrent cold requests for one
// slow cacheable URL spread over them: the origin is asked once. Twice is allowed
// only if a fill lease expired first, and the test says so.
func TestOneOriginFetchAcrossTheFleet(t *testing.T) {
	eachBackend(t, func(t *testing.T, redisURL string) {
		o := newSlowOrigin(t, 300*time.Millisecond)
		var fleet []*replica
		for range 8 {
			fleet = append(fleet, newReplica(t, redisURL, o.URL).ready(t))
		}
		coldBurst(t, fleet, "/slow", 50)
		expired := 0.0
		for _, r := range fleet {
			expired += testutil.ToFloat64(r.leaseExpired)
		}
		switch n := o.gets.Load(); {
		case n == 1:
		case n == 2 && expired > 0:
			t.Logf("origin asked twice: %v fill lease(s) expired before the fill was written", expired)
		default:
			t.Errorf("origin saw %d GETs for 50 requests over 8 replicas (%v leases expired), want 1", n, expired)
		}
	})
}

// coldBurst sends n concurrent GETs of path, spread over the replicas, and checks
// each got the same body.
func coldBurst(t *testing.T, fleet []*replica, path string, n int) {
	t.Helper()
	var (
		wg     sync.WaitGroup
		start  = make(chan struct{})
		mu     sync.Mutex
		bodies = map[string]int{}
	)
	for i := range n {
		r := fleet[i%len(fleet)]
		wg.Go(func() {
			<-start
			resp, err := r.Client().Get(r.URL + path)
			if err != nil {
				t.Error(err)
				return
			}
			defer resp.Body.Close()
			b, err := io.ReadAll(resp.Body)
			if err != nil || resp.StatusCode != http.StatusOK {
				t.Errorf("GET %s: status %d, %v", path, resp.StatusCode, err)
			}
			mu.Lock()
			bodies[string(b)]++
			mu.Unlock()
		})
	}
	close(start)
	wg.Wait()
	if len(bodies) != 1 {
		t.Errorf("%d requests for %s got %d different bodies: %v", n, path, len(bodies), bodies)
	}
}

// newSlowOrigin is an origin whose GETs take d and are fresh for a minute.
func newSlowOrigin(t *testing.T, d time.Duration) *origin {
	t.Helper()
	o := &origin{}
	o.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := o.gets.Add(1)
		time.Sleep(d)
		w.Header().Set("Cache-Control", "max-age=60")
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"fetch":`+strconv.FormatInt(n, 10)+`,"pad":"`+strings.Repeat("x", 4096)+`"}`)
	}))
	t.Cleanup(o.Close)
	return o
}

// redisClientAt is a plain client to one server.
func redisClientAt(t *testing.T, addr string) *redis.Client {
	c := redis.NewClient(&redis.Options{Addr: addr})
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// TestClusterDownAndBack: with every master gone the tier goes down (l2_up 0) and
// the proxy serves from its local store and the origin; when they are back, it
// comes up by itself.
func TestClusterDownAndBack(t *testing.T) {
	c := redistest.StartCluster(t, "--cluster-require-full-coverage", "no")
	o := newOrigin(t)
	a := newReplica(t, c.URL(), o.URL).ready(t)
	b := newReplica(t, c.URL(), o.URL).ready(t)
	for _, m := range c.Masters {
		m.Stop()
	}
	i := 0
	waitFor(t, "A's l2_up to go 0", func() bool {
		i++
		if got := a.get(t, "/down/"+strconv.Itoa(i)); got != "MISS" {
			t.Errorf("GET of a new URL with the cluster down: X-Cache %q, want MISS", got)
		}
		return testutil.ToFloat64(a.m.L2Up) == 0
	})
	for _, m := range c.Masters {
		m.Restart()
	}
	c.WaitOK()
	waitFor(t, "A's l2_up to come back", func() bool { return testutil.ToFloat64(a.m.L2Up) == 1 })
	waitFor(t, "a fill on A to hit on B", func() bool {
		i++
		p := "/back/" + strconv.Itoa(i)
		a.get(t, p)
		a.tier.Wait()
		return b.get(t, p) == "HIT"
	})
}

package l2_test

import (
	"context"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/caching-proxy/caching-proxy/internal/l2"
	"github.com/caching-proxy/caching-proxy/internal/l2/redistest"
	"github.com/redis/go-redis/v9"
)

// purges records the purges a tier heard of from other replicas.
type purges struct {
	mu  sync.Mutex
	got []l2.Purge
}

func (p *purges) on(pp l2.Purge) []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.got = append(p.got, pp)
	return nil
}

func (p *purges) all() []l2.Purge {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.got)
}

func commandCalls(t *testing.T, rdb *redis.Client, cmd string) int {
	t.Helper()
	info, err := rdb.Info(context.Background(), "commandstats").Result()
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(info, "\n") {
		if rest, ok := strings.CutPrefix(line, "cmdstat_"+cmd+":calls="); ok {
			n, _ := strconv.Atoi(rest[:strings.IndexByte(rest, ',')])
			return n
		}
	}
	return 0
}

func TestPurgeByTagAndURLNeverScans(t *testing.T) {
	rs := redistest.Start(t)
	rdb := redisClient(t, rs)
	var heardA, heardB purges
	var ea, eb events
	optA, optB := ea.options(t, rs.URL()), eb.options(t, rs.URL())
	optA.OnPurge, optB.OnPurge = heardA.on, heardB.on
	a, _ := newTier(t, optA), newTier(t, optB)
	ctx := context.Background()

	a.Set("/p/1", []byte("one"), time.Minute, false)
	a.Tag("/p/1", "", []string{"product-1", "all"}, time.Minute)
	a.Set("/p/2", []byte("two"), time.Minute, false)
	a.Tag("/p/2", "", []string{"all"}, 10*time.Minute)
	a.Set("/v", []byte("marker"), time.Hour, false)
	a.Set("/v\x00n\x00gzip", []byte("variant"), time.Minute, false)
	a.Tag("/v\x00n\x00gzip", "/v", nil, time.Minute)
	a.Wait()

	// A tag set lives at least as long as its longest member.
	if ttl := rdb.PTTL(ctx, "cp:0:tag:all").Val(); ttl < 10*time.Minute {
		t.Errorf("PTTL(tag set all) = %v, want >= its longest member's 10m", ttl)
	}
	if m := rdb.SMembers(ctx, "cp:0:url:/v").Val(); !slices.Equal(m, []string{"/v\x00n\x00gzip"}) {
		t.Errorf("URL set of /v = %q, want its variant", m)
	}
	scans := commandCalls(t, rdb, "scan")

	res, err := a.Purge(l2.Purge{Tags: []string{"product-1"}}, nil)
	if err != nil || res.Entries != 1 || res.Scanning {
		t.Errorf("Purge(tag) = %+v, %v; want 1 entry, no scan", res, err)
	}
	if _, ok := a.Get("/p/1"); ok {
		t.Error("/p/1 still in Redis after its tag was purged")
	}
	if _, ok := a.Get("/p/2"); !ok {
		t.Error("/p/2 gone, though it does not carry the tag")
	}
	res, err = a.Purge(l2.Purge{URLs: []string{"/v"}}, nil)
	if err != nil || res.Entries != 2 {
		t.Errorf("Purge(url) = %+v, %v; want the index and its variant", res, err)
	}
	if n := rdb.Exists(ctx, "cp:0:/v", "cp:0:/v\x00n\x00gzip", "cp:0:url:/v", "cp:0:tag:product-1").Val(); n != 0 {
		t.Errorf("%d of the purged keys and sets are still in Redis", n)
	}
	if got := commandCalls(t, rdb, "scan") - scans; got != 0 {
		t.Errorf("URL and tag purges ran SCAN %d times, want none", got)
	}
	if got := commandCalls(t, rdb, "keys"); got != 0 {
		t.Errorf("KEYS ran %d times, want never", got)
	}
	waitFor(t, "B to hear both purges", func() bool { return len(heardB.all()) == 2 })
	if got := heardB.all(); got[0].Tags[0] != "product-1" || got[1].URLs[0] != "/v" {
		t.Errorf("B heard %+v", got)
	}
	if got := heardA.all(); len(got) != 0 {
		t.Errorf("A heard its own purges %+v; it applies them itself", got)
	}
}

func TestSoftPurgeRewritesKeepingTTL(t *testing.T) {
	rs := redistest.Start(t)
	rdb := redisClient(t, rs)
	var e events
	a := newTier(t, e.options(t, rs.URL()))
	ctx := context.Background()
	long := "/long?" + strings.Repeat("q", 300) // stored under its hash
	a.Set("/s", []byte("fresh"), time.Hour, false)
	a.Tag("/s", "", []string{"t"}, time.Hour)
	a.Set(long, []byte("fresh"), time.Hour, false)
	a.Tag(long, "", []string{"t"}, time.Hour)
	a.Wait()
	res, err := a.Purge(l2.Purge{Tags: []string{"t"}, Soft: true}, func(b []byte) ([]byte, bool) {
		return append([]byte("stale:"), b...), true
	})
	if err != nil || res.Entries != 2 {
		t.Errorf("soft Purge = %+v, %v; want 2 entries", res, err)
	}
	for _, k := range []string{"/s", long} {
		if v, ok := a.Get(k); !ok || string(v) != "stale:fresh" {
			t.Errorf("Get(%.10q) after a soft purge = %q, %v; want the restaled value", k, v, ok)
		}
	}
	if ttl := rdb.PTTL(ctx, "cp:0:/s").Val(); ttl < 59*time.Minute {
		t.Errorf("PTTL after the soft purge = %v, want the entry's TTL kept", ttl)
	}
	if n := rdb.Exists(ctx, "cp:0:tag:t").Val(); n != 1 {
		t.Error("a soft purge deleted the tag set; the entries still carry the tag")
	}
}

func TestPurgePrefixScansInTheBackground(t *testing.T) {
	rs := redistest.Start(t)
	rdb := redisClient(t, rs)
	var e events
	a := newTier(t, e.options(t, rs.URL()))
	for i := range 1200 { // more than one SCAN batch
		a.Set("/users/42/"+strconv.Itoa(i), []byte("x"), time.Minute, false)
		if i%500 == 0 {
			a.Wait() // the write queue holds 1024
		}
	}
	a.Set("/users/420", []byte("x"), time.Minute, false)
	a.Set("/users/4*", []byte("x"), time.Minute, false)
	a.Wait()
	if n := rdb.DBSize(context.Background()).Val(); n < 1202 {
		t.Fatalf("%d keys in Redis, want the 1202 written", n)
	}
	res, err := a.Purge(l2.Purge{Prefixes: []string{"/users/42/"}}, nil)
	if err != nil || !res.Scanning {
		t.Fatalf("Purge(prefix) = %+v, %v; want a background scan", res, err)
	}
	waitFor(t, "the scan to delete every key under the prefix", func() bool {
		keys, _, _ := rdb.Scan(context.Background(), 0, "cp:0:/users/42/*", 5000).Result()
		return len(keys) == 0
	})
	for _, k := range []string{"/users/420", "/users/4*"} {
		if _, ok := a.Get(k); !ok {
			t.Errorf("%s gone after purging the prefix /users/42/", k)
		}
	}
	if _, err := a.Purge(l2.Purge{Prefixes: []string{"/users/4*"}}, nil); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the literal prefix /users/4* to be purged", func() bool { _, ok := a.Get("/users/4*"); return !ok })
	if _, ok := a.Get("/users/420"); !ok {
		t.Error("the prefix /users/4* was read as a pattern: /users/420 is gone")
	}
}

func TestPurgeWhileDownSaysSo(t *testing.T) {
	rs := redistest.Start(t)
	var e events
	a := newTier(t, e.options(t, rs.URL()))
	rs.Stop()
	waitFor(t, "the tier to notice", func() bool {
		a.Get("/x")
		_, err := a.Purge(l2.Purge{URLs: []string{"/a"}}, nil)
		return err != nil && strings.Contains(err.Error(), "does not answer")
	})
}

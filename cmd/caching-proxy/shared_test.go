package main

import (
	"context"
	"encoding/json"
	"log/slog"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/caching-proxy/caching-proxy/internal/config"
	"github.com/caching-proxy/caching-proxy/internal/l2"
	"github.com/caching-proxy/caching-proxy/internal/l2/redistest"
	"github.com/caching-proxy/caching-proxy/internal/metrics"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
)

// TestRedisSchemesAgree: config validates --redis-url against its own list of
// schemes (it imports no internal package); it must be the shared tier's.
func TestRedisSchemesAgree(t *testing.T) {
	if got, want := config.RedisSchemes(), l2.Schemes(); !slices.Equal(got, want) {
		t.Errorf("config.RedisSchemes() = %q, want l2.Schemes() = %q", got, want)
	}
}

func TestOpenShared(t *testing.T) {
	m := metrics.New(prometheus.NewRegistry(), nil)
	s, err := openShared(context.Background(), "", m, slog.Default())
	if s != nil || err != nil {
		t.Fatalf("openShared with no URL = %v, %v, want nil, nil", s, err)
	}
	if s.store() != nil { // a nil *l2.Tier in the interface would be called
		t.Error("store() of the tier turned off is not a nil proxy.Shared")
	}
	if _, ok := s.clearer(nil).(clearer); !ok {
		t.Errorf("clearer() of the tier turned off = %T, want the local clearer", s.clearer(nil))
	}
	s.attach(nil)
	s.Close()

	if _, err := openShared(context.Background(), "redis://127.0.0.1:6379/notadb", m, slog.Default()); err == nil || !strings.Contains(err.Error(), "--redis-url") {
		t.Errorf("openShared with a bad database = %v, want an error naming --redis-url", err)
	}
	if _, err := openShared(context.Background(), "redis+sentinel://u:s3cret@127.0.0.1:26379", m, slog.Default()); err == nil ||
		!strings.Contains(err.Error(), "--redis-url") || !strings.Contains(err.Error(), "master_name") || strings.Contains(err.Error(), "s3cret") {
		t.Errorf("openShared with a sentinel URL lacking master_name = %v, want an error naming --redis-url and master_name, without the password", err)
	}
}

// TestSharedTierAcrossReplicas runs two proxies as start wires them, on one Redis
// server and on a Redis Cluster (redis+cluster://).
func TestSharedTierAcrossReplicas(t *testing.T) {
	t.Parallel()
	for _, b := range []struct {
		name  string
		start func(t *testing.T) string
	}{
		{"single", startRedisServer},
		{"cluster", func(t *testing.T) string { return redistest.StartCluster(t).URL() }},
	} {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			testSharedTierAcrossReplicas(t, b.start(t))
		})
	}
}

func testSharedTierAcrossReplicas(t *testing.T, redisURL string) {
	var calls atomic.Int64
	o := countingOrigin(t, &calls)
	withRedis := func(c *config.Config) { c.RedisURL = redisURL }
	a, b := startProxy(t, o.URL, withRedis), startProxy(t, o.URL, withRedis)
	c := httpClient(t)

	if resp, _ := send(t, c, "GET", a.url+"/x"); resp.Header.Get("X-Cache") != "MISS" {
		t.Fatalf("first GET through A: X-Cache %q, want MISS", resp.Header.Get("X-Cache"))
	}
	rdb := redisClient(t, redisURL)
	waitUntil(t, "A's write to reach Redis", func() bool {
		n, _ := rdb.Exists(context.Background(), "cp:0:/x").Result()
		return n == 1
	})
	if resp, _ := send(t, c, "GET", b.url+"/x"); resp.Header.Get("X-Cache") != "HIT" || calls.Load() != 1 {
		t.Fatalf("GET through B: X-Cache %q, origin calls %d, want HIT and 1", resp.Header.Get("X-Cache"), calls.Load())
	}

	resp, body := send(t, c, "POST", "http://"+a.admin+"/cache/clear")
	var cleared struct{ Entries int64 }
	if err := json.Unmarshal([]byte(body), &cleared); resp.StatusCode != 200 || err != nil || cleared.Entries < 1 {
		t.Fatalf("clear through A's admin listener: %d %q, want 200 and A's entries", resp.StatusCode, body)
	}
	// B has /x locally; once it hears of the clear, it asks the origin again.
	waitUntil(t, "B to drop its copy", func() bool {
		resp, _ := send(t, c, "GET", b.url+"/x")
		return resp.Header.Get("X-Cache") == "MISS"
	})
	if n := calls.Load(); n != 2 {
		t.Errorf("origin calls = %d, want 2", n)
	}
}

func TestStartsWithRedisDown(t *testing.T) {
	t.Parallel()
	var calls atomic.Int64
	o := countingOrigin(t, &calls)
	nowhere := "redis://" + net.JoinHostPort("127.0.0.1", strconv.Itoa(redistest.FreePort(t))) + "/0"
	p := startProxy(t, o.URL, func(c *config.Config) { c.RedisURL = nowhere })
	c := httpClient(t)
	for i, want := range []string{"MISS", "HIT"} {
		if resp, _ := send(t, c, "GET", p.url+"/a"); resp.Header.Get("X-Cache") != want {
			t.Errorf("GET %d with Redis down: X-Cache %q, want %s", i+1, resp.Header.Get("X-Cache"), want)
		}
	}
	if _, body := send(t, c, "GET", "http://"+p.admin+"/metrics"); !strings.Contains(body, "\ncaching_proxy_l2_up 0\n") {
		t.Error("metrics do not say caching_proxy_l2_up 0")
	}
	if resp, body := send(t, c, "POST", "http://"+p.admin+"/cache/clear"); resp.StatusCode != 200 || !strings.Contains(body, `"entries":`) {
		t.Errorf("clear with Redis down: %d %q, want 200 with this replica's figures", resp.StatusCode, body)
	}
	if resp, _ := send(t, c, "GET", p.url+"/a"); resp.Header.Get("X-Cache") != "MISS" || calls.Load() != 2 {
		t.Errorf("GET after the clear: X-Cache %q, origin calls %d, want MISS and 2", resp.Header.Get("X-Cache"), calls.Load())
	}
}

// startRedisServer runs redis-server on a free loopback port until t ends and
// returns its URL. Without redis-server the test fails in CI (CI=true), else skips.
func startRedisServer(t *testing.T) string { return redistest.Start(t).URL() }

// redisClient is a plain client for url, a server or (redis+cluster://) a cluster.
func redisClient(t *testing.T, url string) redis.UniversalClient {
	t.Helper()
	var c redis.UniversalClient
	if rest, ok := strings.CutPrefix(url, "redis+cluster://"); ok {
		opt, err := redis.ParseClusterURL("redis://" + rest)
		if err != nil {
			t.Fatal(err)
		}
		c = redis.NewClusterClient(opt)
	} else {
		opt, err := redis.ParseURL(url)
		if err != nil {
			t.Fatal(err)
		}
		c = redis.NewClient(opt)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// waitUntil polls cond until it holds, failing t after 10 seconds.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/caching-proxy/caching-proxy/internal/admin"
	"github.com/caching-proxy/caching-proxy/internal/config"
)

// taggedOrigin counts requests per path; /p/N carries Surrogate-Key product-<N%2>
// (so /p/1 and /p/3 share one), an ETag, and answers If-None-Match with a 304.
type taggedOrigin struct {
	*httptest.Server
	mu          sync.Mutex
	full, cond  map[string]int
	methods     map[string]int
	total       atomic.Int64
	cacheHeader string
}

func newTaggedOrigin(t *testing.T, cacheControl string) *taggedOrigin {
	t.Helper()
	o := &taggedOrigin{full: map[string]int{}, cond: map[string]int{}, methods: map[string]int{}, cacheHeader: cacheControl}
	o.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		o.total.Add(1)
		o.mu.Lock()
		o.methods[r.Method]++
		if r.Header.Get("If-None-Match") != "" {
			o.cond[r.URL.Path]++
		} else if r.Method == http.MethodGet {
			o.full[r.URL.Path]++
		}
		o.mu.Unlock()
		w.Header().Set("Cache-Control", o.cacheHeader)
		w.Header().Set("ETag", `"`+r.URL.Path+`"`)
		if strings.HasPrefix(r.URL.Path, "/p/") {
			n := r.URL.Path[len(r.URL.Path)-1] - '0'
			w.Header().Set("Surrogate-Key", "all product-"+string(rune('0'+n%2)))
		}
		if r.Header.Get("If-None-Match") != "" {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		io.WriteString(w, "origin "+r.URL.Path)
	}))
	t.Cleanup(o.Close)
	return o
}

func (o *taggedOrigin) counts(path string) (full, cond int) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.full[path], o.cond[path]
}

func postPurge(t *testing.T, c *http.Client, adminAddr string, req admin.PurgeRequest) admin.Purged {
	t.Helper()
	body, _ := json.Marshal(req)
	resp, err := c.Post("http://"+adminAddr+"/cache/purge", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("POST /cache/purge %s = %d %q, want 200", body, resp.StatusCode, b)
	}
	var got admin.Purged
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatalf("purge answer %q: %v", b, err)
	}
	return got
}

func TestPurgeThroughTheAdminListener(t *testing.T) {
	t.Parallel()
	o := newTaggedOrigin(t, "max-age=60")
	p := startProxy(t, o.URL)
	c := httpClient(t)
	paths := []string{"/p/1", "/p/2", "/p/3", "/other?x=1"}
	for _, path := range paths {
		send(t, c, "GET", p.url+path)
	}
	// A bad body changes nothing.
	for _, body := range []string{`{"tags":["product-1"],"urls":["ftp://x/"]}`, `{"tags":["product-1"],"bogus":1}`} {
		resp, b := sendBody(t, c, "POST", "http://"+p.admin+"/cache/purge", body)
		if resp.StatusCode != 400 {
			t.Errorf("POST %s = %d %q, want 400", body, resp.StatusCode, b)
		}
	}
	// The public port has no admin path: this goes to the origin.
	if resp, _ := sendBody(t, c, "POST", p.url+"/cache/purge", `{"tags":["product-1"]}`); resp.StatusCode != 200 || o.methods["POST"] != 1 {
		t.Errorf("POST /cache/purge on the public port: %d, origin POSTs %d; want it forwarded", resp.StatusCode, o.methods["POST"])
	}
	for _, path := range paths {
		if resp, _ := send(t, c, "GET", p.url+path); resp.Header.Get("X-Cache") != "HIT" {
			t.Errorf("GET %s after refused purges: %s, want HIT", path, resp.Header.Get("X-Cache"))
		}
	}
	got := postPurge(t, c, p.admin, admin.PurgeRequest{Tags: []string{"product-1"}, URLs: []string{"/other?x=1"}})
	if got.Entries != 3 || got.Shared != nil {
		t.Errorf("purge answered %+v, want 3 entries and no shared tier", got)
	}
	if resp, _ := send(t, c, "GET", p.url+"/p/2"); resp.Header.Get("X-Cache") != "HIT" {
		t.Errorf("untagged /p/2 after the purge: %s, want HIT", resp.Header.Get("X-Cache"))
	}
	for _, path := range []string{"/p/1", "/p/3", "/other?x=1"} {
		if resp, _ := send(t, c, "GET", p.url+path); resp.Header.Get("X-Cache") != "MISS" {
			t.Errorf("GET %s after the purge: %s, want MISS", path, resp.Header.Get("X-Cache"))
		}
	}
	// Varnish's dialect: PURGE <path>, and PURGE / with xkey-purge.
	for _, tt := range []struct {
		path, header, value string
		entries             int64
	}{{"/p/2", "", "", 1}, {"/", "Xkey-Purge", "product-1 unknown", 2}} {
		var hdr []string
		if tt.header != "" {
			hdr = []string{tt.header, tt.value}
		}
		resp, b := send(t, c, "PURGE", "http://"+p.admin+tt.path, hdr...)
		var got admin.Purged
		_ = json.Unmarshal([]byte(b), &got)
		if resp.StatusCode != 200 || got.Entries != tt.entries {
			t.Errorf("PURGE %s %s: %d %q, want 200 and %d entries", tt.path, tt.value, resp.StatusCode, b, tt.entries)
		}
	}
	// caching-proxy purge, the command.
	send(t, c, "GET", p.url+"/p/1")
	send(t, c, "GET", p.url+"/p/2")
	var out bytes.Buffer
	cmd := newRootCmd(nil, clearCache)
	cmd.SetOut(&out)
	cmd.SetArgs([]string{"purge", "--admin-addr", p.admin, "--tag", "product-1", "/p/2"})
	if err := cmd.Execute(); err != nil {
		t.Fatal(err)
	}
	re := regexp.MustCompile(`^purged 2 entries \([0-9.]+ (B|KiB)\) in the cache at ` + regexp.QuoteMeta(p.admin) + "\n$")
	if !re.MatchString(out.String()) {
		t.Errorf("purge printed %q, want it to match %s", out.String(), re)
	}
	if full, _ := o.counts("/p/1"); full != 3 {
		t.Errorf("origin fetched /p/1 %d times, want 3", full)
	}
}

func sendBody(t *testing.T, c *http.Client, method, url, body string) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequest(method, url, strings.NewReader(body))
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

func TestPurgeCommandFlags(t *testing.T) {
	for _, tt := range []struct {
		args    []string
		want    admin.PurgeRequest
		wantErr string
	}{
		{[]string{"purge", "/a", "http://h/b?x"}, admin.PurgeRequest{URLs: []string{"/a", "http://h/b?x"}}, ""},
		{[]string{"purge", "--soft", "--tag", "a", "--tag", "b,c"}, admin.PurgeRequest{Tags: []string{"a", "b,c"}, Soft: true}, ""},
		{[]string{"purge", "--prefix", "/v1/users/42/"}, admin.PurgeRequest{Prefixes: []string{"/v1/users/42/"}}, ""},
		{[]string{"purge"}, admin.PurgeRequest{}, "name what to purge"},
		{[]string{"purge", "--tags", "a"}, admin.PurgeRequest{}, "--tags"},
	} {
		var got *admin.PurgeRequest
		var target adminTarget
		cmd := newPurgeCmd(func(_ context.Context, tg adminTarget, req admin.PurgeRequest) (string, error) {
			got, target = &req, tg
			return "ok", nil
		})
		cmd.SetArgs(tt.args[1:])
		cmd.SetOut(io.Discard)
		err := cmd.Execute()
		switch {
		case tt.wantErr != "":
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) || got != nil {
				t.Errorf("%q: err %v, purge called %v; want an error naming %q and no call", tt.args, err, got != nil, tt.wantErr)
			}
		case err != nil || got == nil:
			t.Errorf("%q: err %v, called %v", tt.args, err, got != nil)
		default:
			if g, w := *got, tt.want; !equalReq(g, w) {
				t.Errorf("%q: request %+v, want %+v", tt.args, g, w)
			}
			if target.addr() != "127.0.0.1:3001" {
				t.Errorf("%q: target %s, want the default admin listener", tt.args, target.addr())
			}
		}
	}
}

func equalReq(a, b admin.PurgeRequest) bool {
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	return string(ja) == string(jb)
}

func TestTagHeaderFlag(t *testing.T) {
	cfg, _, _, err := execute(t, "start", "--origin", "http://o.test", "--tag-header", "surrogate-key,Cache-Tag", "--keep-tag-headers")
	if err != nil {
		t.Fatal(err)
	}
	if got := tagFields(cfg.TagHeaders); strings.Join(got, ",") != "Surrogate-Key,Cache-Tag" || !cfg.KeepTagHeaders {
		t.Errorf("--tag-header gave %q, keep %v", got, cfg.KeepTagHeaders)
	}
	if _, _, _, err := execute(t, "start", "--origin", "http://o.test", "--tag-header", "X-Tags"); err == nil || !strings.Contains(err.Error(), "--tag-header") {
		t.Errorf("--tag-header X-Tags: %v, want an error naming --tag-header", err)
	}
}

// TestPurgeAcrossReplicas runs two proxies against one real redis-server.
func TestPurgeAcrossReplicas(t *testing.T) {
	t.Parallel()
	redisURL := startRedisServer(t)
	rdb := redisClient(t, redisURL)
	o := newTaggedOrigin(t, "max-age=600")
	withRedis := func(c *config.Config) { c.RedisURL = redisURL }
	a, b := startProxy(t, o.URL, withRedis), startProxy(t, o.URL, withRedis)
	c := httpClient(t)
	paths := []string{"/p/1", "/p/2", "/p/3", "/soft", "/pre/1", "/pre/2"}
	for _, path := range paths {
		send(t, c, "GET", a.url+path)
	}
	waitUntil(t, "A's writes and tag sets in Redis", func() bool {
		n, _ := rdb.Exists(context.Background(), "cp:0:/p/1", "cp:0:/p/3", "cp:0:/soft", "cp:0:/pre/2", "cp:0:tag:product-1").Result()
		return n == 5
	})
	for _, path := range paths { // B now holds local copies too
		if resp, _ := send(t, c, "GET", b.url+path); resp.Header.Get("X-Cache") != "HIT" {
			t.Fatalf("GET %s through B: %s, want HIT from the shared tier", path, resp.Header.Get("X-Cache"))
		}
	}
	if n := o.total.Load(); n != int64(len(paths)) {
		t.Fatalf("origin requests = %d, want %d", n, len(paths))
	}

	t.Run("tag purge through A: B misses exactly the tagged URLs", func(t *testing.T) {
		got := postPurge(t, c, a.admin, admin.PurgeRequest{Tags: []string{"product-1"}})
		if got.Entries != 2 || got.Shared == nil || got.Shared.Entries != 2 || got.Shared.Error != "" {
			t.Errorf("purge answered %+v (shared %+v), want 2 local and 2 shared entries", got, got.Shared)
		}
		waitUntil(t, "B to drop /p/1", func() bool {
			resp, _ := send(t, c, "GET", b.url+"/p/1")
			return resp.Header.Get("X-Cache") == "MISS"
		})
		for path, want := range map[string]string{"/p/3": "MISS", "/p/2": "HIT", "/soft": "HIT"} {
			if resp, _ := send(t, c, "GET", b.url+path); resp.Header.Get("X-Cache") != want {
				t.Errorf("GET %s through B after the purge: %s, want %s", path, resp.Header.Get("X-Cache"), want)
			}
		}
		for path, want := range map[string]int{"/p/1": 2, "/p/3": 2, "/p/2": 1} {
			if full, _ := o.counts(path); full != want {
				t.Errorf("origin fetched %s %d times, want %d", path, full, want)
			}
		}
	})

	t.Run("soft purge through A: B revalidates", func(t *testing.T) {
		got := postPurge(t, c, a.admin, admin.PurgeRequest{URLs: []string{"/soft"}, Soft: true})
		if got.Entries != 1 || got.Shared == nil || got.Shared.Entries != 1 {
			t.Errorf("soft purge answered %+v (shared %+v), want 1 local and 1 shared entry", got, got.Shared)
		}
		var status string
		waitUntil(t, "B to revalidate /soft", func() bool {
			resp, _ := send(t, c, "GET", b.url+"/soft")
			status = resp.Header.Get("Cache-Status")
			return !strings.Contains(status, "; hit")
		})
		if status != "caching-proxy; fwd=stale; fwd-status=304" {
			t.Errorf("B's Cache-Status = %q, want a revalidation with a 304", status)
		}
		if full, cond := o.counts("/soft"); full != 1 || cond != 1 {
			t.Errorf("origin saw /soft %d times in full and %d conditionally, want 1 and 1", full, cond)
		}
	})

	t.Run("prefix purge through A scans Redis in the background", func(t *testing.T) {
		got := postPurge(t, c, a.admin, admin.PurgeRequest{Prefixes: []string{"/pre/"}})
		if got.Entries != 2 || got.Shared == nil || got.Shared.Scan != "background" {
			t.Errorf("prefix purge answered %+v (shared %+v), want 2 entries and a background scan", got, got.Shared)
		}
		waitUntil(t, "the scan to delete /pre/ keys from Redis", func() bool {
			n, _ := rdb.Exists(context.Background(), "cp:0:/pre/1", "cp:0:/pre/2").Result()
			return n == 0
		})
		waitUntil(t, "B to drop /pre/1", func() bool {
			resp, _ := send(t, c, "GET", b.url+"/pre/1")
			return resp.Header.Get("X-Cache") == "MISS"
		})
		if full, _ := o.counts("/pre/1"); full != 2 {
			t.Errorf("origin fetched /pre/1 %d times, want 2", full)
		}
	})
}

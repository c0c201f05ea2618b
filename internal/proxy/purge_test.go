package proxy

import (
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

func mustKey(t *testing.T, target string) string {
	t.Helper()
	k, err := PurgeKey(target)
	if err != nil {
		t.Fatalf("PurgeKey(%q): %v", target, err)
	}
	return k
}

// calls returns how often the origin was asked for what the function requests.
func (p *testProxy) wantOrigin(t *testing.T, o *origin, want int64, what string) {
	t.Helper()
	if got := o.calls.Load(); got != want {
		t.Errorf("%s: origin calls = %d, want %d", what, got, want)
	}
}

func TestPurgeKeyIsTheCacheKey(t *testing.T) {
	for in, want := range map[string]string{
		"/a?x=1":                       "/a?x=1",
		"/a":                           "/a",
		"http://example.com/a%2Fb?q=2": "/a%2Fb?q=2",
		"https://h/":                   "/",
		"/a?":                          "/a?",
	} {
		if got := mustKey(t, in); got != want {
			t.Errorf("PurgeKey(%q) = %q, want %q", in, got, want)
		}
	}
	for _, bad := range []string{"", "a", "ftp://h/a", "/a b", "/a#f", "mailto:x@y", "http:///a"} {
		if _, err := PurgeKey(bad); err == nil {
			t.Errorf("PurgeKey(%q) succeeded, want an error", bad)
		}
	}
}

func TestPurgeURLRemovesEveryVariant(t *testing.T) {
	o := newOrigin(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		w.Header().Set("Vary", "Accept-Language")
		io.WriteString(w, "hello in "+r.Header.Get("Accept-Language"))
	})
	p := newTestProxy(t, o.URL)
	for _, lang := range []string{"en", "fr", "en", "fr"} {
		p.get(t, "/greeting?x=1", "Accept-Language", lang)
	}
	p.get(t, "/other", "Accept-Language", "en")
	p.wantOrigin(t, o, 3, "two variants and another URL, twice")

	got := p.h.Purge(Purge{URLs: []string{mustKey(t, "/greeting?x=1")}})
	if got.Entries != 2 || got.Bytes <= 0 {
		t.Errorf("Purge() = %+v, want 2 entries and their bytes", got)
	}
	for _, lang := range []string{"en", "fr"} {
		resp, _ := p.get(t, "/greeting?x=1", "Accept-Language", lang)
		wantStatus(t, resp, "MISS", "fwd=miss")
	}
	resp, _ := p.get(t, "/other", "Accept-Language", "en")
	wantStatus(t, resp, "HIT", "hit")
	p.wantOrigin(t, o, 5, "after purging the URL: both variants fetched again, the other URL not")
	if got := p.h.Purge(Purge{URLs: []string{"/never-stored"}}); got.Entries != 0 || got.Bytes != 0 {
		t.Errorf("purging what is not there = %+v, want 0", got)
	}
}

func TestPurgePrefix(t *testing.T) {
	o := newOrigin(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		io.WriteString(w, r.URL.RequestURI())
	})
	p := newTestProxy(t, o.URL)
	paths := []string{"/v1/users/42/", "/v1/users/42/orders?page=2", "/v1/users/420", "/v1/users/43/"}
	for _, path := range paths {
		p.get(t, path)
	}
	got := p.h.Purge(Purge{Prefixes: []string{"/v1/users/42/"}})
	if got.Entries != 2 {
		t.Errorf("Purge(prefix) = %+v, want 2 entries", got)
	}
	for i, path := range paths {
		resp, _ := p.get(t, path)
		if want := i < 2; (resp.Header.Get("X-Cache") == "MISS") != want {
			t.Errorf("GET %s after the prefix purge: X-Cache %s, want a miss: %v", path, resp.Header.Get("X-Cache"), want)
		}
	}
	p.wantOrigin(t, o, 6, "four URLs, then the two under the prefix again")
}

func TestPurgeTagAndTagFields(t *testing.T) {
	o := newOrigin(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		switch r.URL.Path {
		case "/sk":
			w.Header().Set("Surrogate-Key", "product-42 list")
		case "/ct":
			w.Header().Set("Cache-Tag", "product-42,other")
		case "/cg":
			w.Header().Set("Cache-Groups", `"product-42"`)
		case "/untagged":
		default:
			w.Header().Set("Surrogate-Key", "product-420")
		}
		io.WriteString(w, r.URL.Path)
	})
	p := newTestProxy(t, o.URL)
	paths := []string{"/sk", "/ct", "/cg", "/untagged", "/near"}
	for _, path := range paths {
		resp, _ := p.get(t, path)
		if resp.Header.Get("Surrogate-Key") != "" || resp.Header.Get("Cache-Tag") != "" {
			t.Errorf("GET %s (miss) shows the client Surrogate-Key %q / Cache-Tag %q", path, resp.Header.Get("Surrogate-Key"), resp.Header.Get("Cache-Tag"))
		}
	}
	for _, path := range paths {
		resp, _ := p.get(t, path)
		wantStatus(t, resp, "HIT", "hit")
		if resp.Header.Get("Surrogate-Key") != "" || resp.Header.Get("Cache-Tag") != "" {
			t.Errorf("GET %s (hit) shows the client Surrogate-Key or Cache-Tag", path)
		}
		if path == "/cg" && resp.Header.Get("Cache-Groups") == "" {
			t.Error("Cache-Groups was removed; RFC 9875 addresses every cache, so it is passed on")
		}
	}
	if got := p.h.Purge(Purge{Tags: []string{"product-42"}}); got.Entries != 3 {
		t.Errorf("Purge(tag) = %+v, want 3 entries", got)
	}
	for i, path := range paths {
		resp, _ := p.get(t, path)
		if want := i < 3; (resp.Header.Get("X-Cache") == "MISS") != want {
			t.Errorf("GET %s after the tag purge: X-Cache %s, want a miss: %v", path, resp.Header.Get("X-Cache"), want)
		}
	}
	p.wantOrigin(t, o, 8, "five URLs, then the three tagged product-42 again")
	if err := testutil.GatherAndCompare(p.reg, strings.NewReader(`
# HELP caching_proxy_purged_entries_total Stored responses that purges made through this replica deleted or marked stale in its local store.
# TYPE caching_proxy_purged_entries_total counter
caching_proxy_purged_entries_total 3
`), "caching_proxy_purged_entries_total"); err != nil {
		t.Error(err)
	}
	if got := purgeCount(t, p, "tag", "hard"); got != 1 {
		t.Errorf(`caching_proxy_purges_total{kind="tag",mode="hard"} = %v, want 1`, got)
	}
}

func TestKeepTagHeadersAndTagHeader(t *testing.T) {
	o := newOrigin(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		w.Header().Set("Surrogate-Key", "sk")
		w.Header().Set("Cache-Tag", "ct")
		io.WriteString(w, "x")
	})
	p := newTestProxy(t, o.URL, func(o *Options) { o.KeepTagHeaders = true; o.TagFields = []string{"Cache-Tag"} })
	for range 2 {
		resp, _ := p.get(t, "/a")
		if resp.Header.Get("Surrogate-Key") != "sk" || resp.Header.Get("Cache-Tag") != "ct" {
			t.Errorf("with KeepTagHeaders: Surrogate-Key %q, Cache-Tag %q; want both passed on", resp.Header.Get("Surrogate-Key"), resp.Header.Get("Cache-Tag"))
		}
	}
	if got := p.h.Purge(Purge{Tags: []string{"sk"}}); got.Entries != 0 {
		t.Errorf("Purge(sk) with --tag-header Cache-Tag = %+v, want 0: Surrogate-Key is not read", got)
	}
	if got := p.h.Purge(Purge{Tags: []string{"ct"}}); got.Entries != 1 {
		t.Errorf("Purge(ct) = %+v, want 1", got)
	}
}

func TestCacheGroupInvalidationFromAPost(t *testing.T) {
	o := newOrigin(t, func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost {
			w.Header().Set("Cache-Group-Invalidation", `"articles", "unknown"`)
			if r.URL.Path == "/fail" {
				w.WriteHeader(http.StatusInternalServerError)
			}
			io.WriteString(w, "saved")
			return
		}
		w.Header().Set("Cache-Control", "max-age=60")
		if strings.HasPrefix(r.URL.Path, "/articles/") {
			w.Header().Set("Cache-Groups", `"articles"`)
		}
		io.WriteString(w, r.URL.Path)
	})
	p := newTestProxy(t, o.URL)
	paths := []string{"/articles/1", "/articles/2", "/authors/1"}
	for _, path := range paths {
		p.get(t, path)
	}
	p.do(t, http.MethodPost, "/fail", nil) // an error response invalidates nothing (RFC 9875 §3)
	for _, path := range paths {
		resp, _ := p.get(t, path)
		wantStatus(t, resp, "HIT", "hit")
	}
	p.wantOrigin(t, o, 4, "three GETs and the failed POST")
	p.do(t, http.MethodPost, "/comments", nil)
	for i, path := range paths {
		resp, _ := p.get(t, path)
		if want := i < 2; (resp.Header.Get("X-Cache") == "MISS") != want {
			t.Errorf("GET %s after the POST: X-Cache %s, want a miss: %v", path, resp.Header.Get("X-Cache"), want)
		}
	}
	p.wantOrigin(t, o, 7, "the POST, then the two articles again")
	if got := purgeCount(t, p, "group", "hard"); got != 2 {
		t.Errorf(`caching_proxy_purges_total{kind="group",mode="hard"} = %v, want 2`, got)
	}
}

func TestSoftPurgeRevalidates(t *testing.T) {
	var conditional atomic.Int64
	o := newOrigin(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=600")
		w.Header().Set("ETag", `"v1"`)
		w.Header().Set("Surrogate-Key", "t")
		if r.Header.Get("If-None-Match") == `"v1"` {
			conditional.Add(1)
			w.WriteHeader(http.StatusNotModified)
			return
		}
		io.WriteString(w, "body v1")
	})
	p := newTestProxy(t, o.URL)
	p.get(t, "/a")
	p.get(t, "/a")
	got := p.h.Purge(Purge{Tags: []string{"t"}, Soft: true})
	if got.Entries != 1 {
		t.Errorf("soft Purge() = %+v, want 1 entry", got)
	}
	resp, body := p.get(t, "/a")
	wantStatus(t, resp, "HIT", "fwd=stale; fwd-status=304")
	if body != "body v1" {
		t.Errorf("body after revalidation = %q, want the stored one", body)
	}
	if conditional.Load() != 1 {
		t.Errorf("conditional requests = %d, want 1: a soft purge keeps the entry and revalidates it", conditional.Load())
	}
	resp, _ = p.get(t, "/a")
	wantStatus(t, resp, "HIT", "hit")
	p.wantOrigin(t, o, 2, "one fetch, one revalidation")
	if got := purgeCount(t, p, "tag", "soft"); got != 1 {
		t.Errorf(`caching_proxy_purges_total{kind="tag",mode="soft"} = %v, want 1`, got)
	}
}

func TestSoftPurgeServesStaleWhileRevalidating(t *testing.T) {
	release := make(chan struct{})
	var refreshes atomic.Int64
	o := newOrigin(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=600, stale-while-revalidate=60")
		w.Header().Set("ETag", `"v1"`)
		if r.Header.Get("If-None-Match") != "" {
			refreshes.Add(1)
			<-release
			w.WriteHeader(http.StatusNotModified)
			return
		}
		io.WriteString(w, "v1")
	})
	p := newTestProxy(t, o.URL)
	p.get(t, "/a")
	p.h.Purge(Purge{URLs: []string{"/a"}, Soft: true})
	for range 3 {
		resp, body := p.get(t, "/a")
		wantStatus(t, resp, "HIT", "hit; ttl=0; detail=stale-while-revalidate")
		if body != "v1" {
			t.Errorf("body = %q, want the stale v1", body)
		}
	}
	close(release)
	deadline := time.Now().Add(5 * time.Second)
	for {
		resp, _ := p.get(t, "/a")
		if !strings.Contains(resp.Header.Get("Cache-Status"), "stale") || time.Now().After(deadline) {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	if got := refreshes.Load(); got != 1 {
		t.Errorf("background refreshes = %d, want 1", got)
	}
}

// TestPurgeDuringFillIsNotUndone holds the origin's body until a purge has been
// made: the response that was on its way must not be stored after the purge.
func TestPurgeDuringFillIsNotUndone(t *testing.T) {
	for _, tt := range []struct {
		name  string
		purge Purge
	}{
		{"url", Purge{URLs: []string{"/slow"}}},
		{"tag", Purge{Tags: []string{"slow-tag"}}},
		{"prefix", Purge{Prefixes: []string{"/sl"}}},
		{"soft", Purge{URLs: []string{"/slow"}, Soft: true}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			headerSent, release := make(chan struct{}), make(chan struct{})
			var n atomic.Int64
			o := newOrigin(t, func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Cache-Control", "max-age=60")
				w.Header().Set("Surrogate-Key", "slow-tag")
				w.Header().Set("Content-Length", "4")
				if n.Add(1) == 1 {
					w.WriteHeader(http.StatusOK)
					w.(http.Flusher).Flush()
					close(headerSent)
					<-release
				}
				io.WriteString(w, "body")
			})
			p := newTestProxy(t, o.URL)
			done := make(chan string)
			go func() {
				resp, err := p.Client().Get(p.URL + "/slow")
				if err != nil {
					done <- err.Error()
					return
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				done <- string(b)
			}()
			<-headerSent
			p.h.Purge(tt.purge)
			close(release)
			if got := <-done; got != "body" {
				t.Errorf("the client in flight got %q, want the body", got)
			}
			p.h.store.Wait()
			resp, _ := p.get(t, "/slow")
			wantStatus(t, resp, "MISS", "fwd=miss; stored")
			p.wantOrigin(t, o, 2, "the fill that raced the purge was not stored")
			resp, _ = p.get(t, "/slow")
			wantStatus(t, resp, "HIT", "hit")
		})
	}
}

func TestPurgeLogMatches(t *testing.T) {
	var l purgeLog
	start := l.now()
	if l.matchSince(start, "/a", nil) {
		t.Error("no purge since, yet a match")
	}
	l.record(Purge{URLs: []string{"/b"}, Prefixes: []string{"/c/"}, Tags: []string{"t"}})
	for _, tt := range []struct {
		key  string
		tags []string
		want bool
	}{
		{"/a", nil, false}, {"/b", nil, true}, {"/bb", nil, false}, {"/c/1", nil, true}, {"/a", []string{"u", "t"}, true},
	} {
		if got := l.matchSince(start, tt.key, tt.tags); got != tt.want {
			t.Errorf("matchSince(%q, %q) = %v, want %v", tt.key, tt.tags, got, tt.want)
		}
	}
	if l.matchSince(l.now(), "/b", nil) {
		t.Error("a fill that began after the purge matched it")
	}
	for range purgeLogSize {
		l.record(Purge{URLs: []string{"/x"}})
	}
	if !l.matchSince(start, "/a", nil) {
		t.Error("a fill older than the log is not treated as purged")
	}
}

// purgeCount reads caching_proxy_purges_total{kind, mode} from the proxy's registry.
func purgeCount(t *testing.T, p *testProxy, kind, mode string) float64 {
	t.Helper()
	mfs, err := p.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "caching_proxy_purges_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if labels["kind"] == kind && labels["mode"] == mode {
				return m.GetCounter().GetValue()
			}
		}
	}
	return -1
}

// TestTagFieldsHiddenInEveryCoding: the copies the proxy compresses are served
// without Surrogate-Key and Cache-Tag too, and a soft purge makes them stale with
// the entry.
func TestTagFieldsHiddenInEveryCoding(t *testing.T) {
	o := newOrigin(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=600")
		w.Header().Set("Content-Type", "text/html")
		w.Header().Set("ETag", `"p"`)
		w.Header().Set("Surrogate-Key", "page")
		if r.Header.Get("If-None-Match") != "" {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		w.Write(page)
	})
	p := newTestProxy(t, o.URL, withCompression)
	for _, coding := range []string{"gzip", "br", "identity", "gzip"} {
		resp, _ := p.raw(t, http.MethodGet, "/page", "Accept-Encoding", coding)
		if resp.Header.Get("Surrogate-Key") != "" {
			t.Errorf("Accept-Encoding %s: Surrogate-Key %q shown to the client", coding, resp.Header.Get("Surrogate-Key"))
		}
	}
	p.h.Purge(Purge{Tags: []string{"page"}, Soft: true})
	resp, _ := p.raw(t, http.MethodGet, "/page", "Accept-Encoding", "gzip")
	if got := resp.Header.Get("Cache-Status"); !strings.Contains(got, "fwd=stale; fwd-status=304") {
		t.Errorf("gzip after a soft purge: Cache-Status %q, want a revalidation", got)
	}
	if resp.Header.Get("Content-Encoding") != "gzip" || resp.Header.Get("Surrogate-Key") != "" {
		t.Errorf("after revalidation: Content-Encoding %q, Surrogate-Key %q", resp.Header.Get("Content-Encoding"), resp.Header.Get("Surrogate-Key"))
	}
}

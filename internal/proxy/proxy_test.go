package proxy

import (
	"flag"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/caching-proxy/caching-proxy/internal/metrics"
	"github.com/prometheus/client_golang/prometheus"
)

// origin is an httptest server that counts the requests reaching it and keeps the last one.
type origin struct {
	*httptest.Server
	calls atomic.Int64
	mu    sync.Mutex
	last  *http.Request
}

func newOrigin(t *testing.T, h http.HandlerFunc) *origin {
	t.Helper()
	o := &origin{}
	o.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		o.calls.Add(1)
		o.mu.Lock()
		o.last = r.Clone(r.Context())
		o.mu.Unlock()
		h(w, r)
	}))
	t.Cleanup(o.Close)
	return o
}

func (o *origin) lastRequest() *http.Request {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.last
}

// overH2 runs every test of this package with clients speaking HTTP/2 over TLS to the
// proxy (make test runs the package both ways), so the request path cannot come to
// depend on HTTP/1.1 framing. Tests of HTTP/1.1 framing itself skip in that run.
var overH2 = flag.Bool("h2", false, "clients reach the proxy over HTTPS and HTTP/2")

// h2Only is a Transport's Protocols that fails rather than fall back to HTTP/1.1.
func h2Only() *http.Protocols {
	p := new(http.Protocols)
	p.SetHTTP2(true)
	return p
}

// testProxy is the proxy in front of an origin, on a real listener.
type testProxy struct {
	*httptest.Server
	h   *Handler
	reg *prometheus.Registry
}

func newTestProxy(t *testing.T, originURL string, tweak ...func(*Options)) *testProxy {
	t.Helper()
	u, err := url.Parse(originURL)
	if err != nil {
		t.Fatal(err)
	}
	st, err := NewStore(64 << 20)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.Close)
	reg := prometheus.NewRegistry()
	opt := Options{Origin: u, Store: st, Metrics: metrics.New(reg, st.Stats), MaxObjectSize: 1 << 20}
	for _, f := range tweak {
		f(&opt)
	}
	h := New(opt)
	p := &testProxy{Server: httptest.NewUnstartedServer(h), h: h, reg: reg}
	if *overH2 {
		p.EnableHTTP2 = true
		p.Config.ErrorLog = log.New(io.Discard, "", 0) // handshakes cut short when a test ends
		p.StartTLS()
		p.Client().Transport.(*http.Transport).Protocols = h2Only()
	} else {
		p.Start()
	}
	p.Client().CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	t.Cleanup(p.Close)
	return p
}

// get sends a request through the proxy and returns the response with its body read.
func (p *testProxy) do(t *testing.T, method, path string, header http.Header) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, p.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := p.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, string(body)
}

func (p *testProxy) get(t *testing.T, path string, kv ...string) (*http.Response, string) {
	t.Helper()
	h := http.Header{}
	for i := 0; i+1 < len(kv); i += 2 {
		h.Add(kv[i], kv[i+1])
	}
	return p.do(t, http.MethodGet, path, h)
}

func wantStatus(t *testing.T, resp *http.Response, xcache, cacheStatusPrefix string) {
	t.Helper()
	if got := resp.Header.Get("X-Cache"); got != xcache {
		t.Errorf("X-Cache = %q, want %q", got, xcache)
	}
	if got := resp.Header.Get("Cache-Status"); !strings.HasPrefix(got, "caching-proxy; "+cacheStatusPrefix) {
		t.Errorf("Cache-Status = %q, want prefix %q", got, "caching-proxy; "+cacheStatusPrefix)
	}
}

func TestSecondRequestIsServedFromCache(t *testing.T) {
	o := newOrigin(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		io.WriteString(w, "product 1")
	})
	p := newTestProxy(t, o.URL)

	resp, body := p.get(t, "/products/1")
	wantStatus(t, resp, "MISS", "fwd=miss; stored")
	resp, body2 := p.get(t, "/products/1")
	wantStatus(t, resp, "HIT", "hit; ttl=")
	if body2 != body || body != "product 1" {
		t.Errorf("bodies = %q, %q; want both %q", body, body2, "product 1")
	}
	if resp.Header.Get("Age") == "" {
		t.Error("a response from cache has no Age")
	}
	if got := o.calls.Load(); got != 1 {
		t.Errorf("origin saw %d requests, want 1", got)
	}
	// HEAD is answered from the stored GET, without a body.
	resp, body = p.do(t, http.MethodHead, "/products/1", nil)
	wantStatus(t, resp, "HIT", "hit")
	if body != "" || o.calls.Load() != 1 {
		t.Errorf("HEAD from cache: body %q, origin calls %d; want empty and 1", body, o.calls.Load())
	}
	// Another query string is another resource.
	p.get(t, "/products/1?x=1")
	if got := o.calls.Load(); got != 2 {
		t.Errorf("origin saw %d requests after a new query, want 2", got)
	}
}

func TestResponsesThatMustNotBeShared(t *testing.T) {
	tests := []struct {
		name    string
		reqHdr  []string
		respHdr map[string]string
		method  string
	}{
		{"no-store", nil, map[string]string{"Cache-Control": "max-age=60, no-store"}, "GET"},
		{"private", nil, map[string]string{"Cache-Control": "private, max-age=60"}, "GET"},
		{"authorization without public", []string{"Authorization", "Bearer alice"}, map[string]string{"Cache-Control": "max-age=60"}, "GET"},
		{"set-cookie on heuristic freshness", nil, map[string]string{"Set-Cookie": "id=alice", "Last-Modified": "Mon, 01 Jan 2024 00:00:00 GMT"}, "GET"},
		{"vary star", nil, map[string]string{"Cache-Control": "max-age=60", "Vary": "*"}, "GET"},
		{"request no-store", []string{"Cache-Control", "no-store"}, map[string]string{"Cache-Control": "max-age=60"}, "GET"},
		{"post", nil, map[string]string{"Cache-Control": "max-age=60"}, "POST"},
		{"status not cacheable by default", nil, map[string]string{"X-Status": "302"}, "GET"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := newOrigin(t, func(w http.ResponseWriter, r *http.Request) {
				status := http.StatusOK
				for k, v := range tt.respHdr {
					if k == "X-Status" {
						status = 302
						w.Header().Set("Location", "/elsewhere")
						continue
					}
					w.Header().Set(k, v)
				}
				w.WriteHeader(status)
				io.WriteString(w, "secret of "+r.Header.Get("Authorization"))
			})
			p := newTestProxy(t, o.URL)
			h := http.Header{}
			for i := 0; i+1 < len(tt.reqHdr); i += 2 {
				h.Set(tt.reqHdr[i], tt.reqHdr[i+1])
			}
			p.do(t, tt.method, "/me", h)
			_, body := p.do(t, tt.method, "/me", http.Header{"Authorization": {"Bearer mallory"}})
			if got := o.calls.Load(); got != 2 {
				t.Errorf("origin saw %d requests, want 2 (nothing reused)", got)
			}
			if strings.Contains(body, "alice") {
				t.Errorf("mallory got alice's response %q", body)
			}
		})
	}
}

func TestAuthorizedResponseMarkedPublicIsShared(t *testing.T) {
	o := newOrigin(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=60")
		io.WriteString(w, "catalogue")
	})
	p := newTestProxy(t, o.URL)
	p.get(t, "/catalogue", "Authorization", "Bearer a")
	resp, _ := p.get(t, "/catalogue", "Authorization", "Bearer b")
	wantStatus(t, resp, "HIT", "hit")
}

func TestStaleEntryIsRevalidatedConditionally(t *testing.T) {
	o := newOrigin(t, func(w http.ResponseWriter, r *http.Request) {
		// Age equal to max-age: stale on arrival, so no test needs to sleep.
		w.Header().Set("Cache-Control", "max-age=60")
		w.Header().Set("Age", "60")
		w.Header().Set("ETag", `"v1"`)
		w.Header().Set("X-Version", "1")
		if r.Header.Get("If-None-Match") == `"v1"` {
			w.Header().Set("X-Version", "2") // a 304 refreshes stored fields (RFC 9111 §3.2)
			w.WriteHeader(http.StatusNotModified)
			return
		}
		io.WriteString(w, "body v1")
	})
	p := newTestProxy(t, o.URL)
	p.get(t, "/doc")
	resp, body := p.get(t, "/doc")
	if got := o.lastRequest().Header.Get("If-None-Match"); got != `"v1"` {
		t.Errorf("revalidation sent If-None-Match %q, want %q", got, `"v1"`)
	}
	wantStatus(t, resp, "HIT", "fwd=stale; fwd-status=304")
	if body != "body v1" || resp.Header.Get("X-Version") != "2" {
		t.Errorf("after 304: body %q, X-Version %q; want stored body and refreshed field 2", body, resp.Header.Get("X-Version"))
	}
	if got := o.calls.Load(); got != 2 {
		t.Errorf("origin saw %d requests, want 2", got)
	}
}

func TestClientConditionalAnsweredFromCache(t *testing.T) {
	o := newOrigin(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		w.Header().Set("ETag", `"abc"`)
		io.WriteString(w, "payload")
	})
	p := newTestProxy(t, o.URL)
	p.get(t, "/x")
	resp, body := p.get(t, "/x", "If-None-Match", `W/"abc"`)
	if resp.StatusCode != http.StatusNotModified || body != "" {
		t.Errorf("conditional hit = %d %q, want 304 and no body", resp.StatusCode, body)
	}
	resp, body = p.get(t, "/x", "Range", "bytes=2-4")
	if resp.StatusCode != http.StatusPartialContent || body != "ylo" || resp.Header.Get("Content-Range") != "bytes 2-4/7" {
		t.Errorf("range hit = %d %q %q, want 206 \"ylo\" bytes 2-4/7", resp.StatusCode, body, resp.Header.Get("Content-Range"))
	}
	if got := o.calls.Load(); got != 1 {
		t.Errorf("origin saw %d requests, want 1", got)
	}
}

func TestVariantsCoexist(t *testing.T) {
	o := newOrigin(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		w.Header().Set("Vary", "Accept-Language")
		io.WriteString(w, "hello in "+r.Header.Get("Accept-Language"))
	})
	p := newTestProxy(t, o.URL)
	p.get(t, "/greet", "Accept-Language", "en")
	p.get(t, "/greet", "Accept-Language", "fr")
	resp, body := p.get(t, "/greet", "Accept-Language", "en")
	wantStatus(t, resp, "HIT", "hit")
	if body != "hello in en" {
		t.Errorf("body = %q, want the en variant", body)
	}
	_, body = p.get(t, "/greet", "Accept-Language", "fr")
	if body != "hello in fr" {
		t.Errorf("body = %q, want the fr variant", body)
	}
	if got := o.calls.Load(); got != 2 {
		t.Errorf("origin saw %d requests, want 2", got)
	}
}

func TestUnsafeMethodInvalidates(t *testing.T) {
	o := newOrigin(t, func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost {
			w.Header().Set("Location", "/items/2")
			w.WriteHeader(http.StatusCreated)
			return
		}
		w.Header().Set("Cache-Control", "max-age=60")
		io.WriteString(w, r.URL.Path)
	})
	p := newTestProxy(t, o.URL)
	p.get(t, "/items")
	p.get(t, "/items/2")
	resp, _ := p.do(t, http.MethodPost, "/items", nil)
	wantStatus(t, resp, "MISS", "fwd=method")
	for _, path := range []string{"/items", "/items/2"} {
		resp, _ := p.get(t, path)
		wantStatus(t, resp, "MISS", "fwd=miss")
	}
	if got := o.calls.Load(); got != 5 {
		t.Errorf("origin saw %d requests, want 5", got)
	}
}

func TestOnlyIfCachedMissIs504(t *testing.T) {
	o := newOrigin(t, func(w http.ResponseWriter, r *http.Request) {})
	p := newTestProxy(t, o.URL)
	resp, _ := p.get(t, "/nothing", "Cache-Control", "only-if-cached")
	if resp.StatusCode != http.StatusGatewayTimeout || o.calls.Load() != 0 {
		t.Errorf("only-if-cached miss = %d with %d origin calls, want 504 and 0", resp.StatusCode, o.calls.Load())
	}
}

func TestForwardedHeadersCannotBePoisoned(t *testing.T) {
	o := newOrigin(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		// A framework that trusts X-Forwarded-Host would build links from it.
		io.WriteString(w, "<a href=//"+r.Header.Get("X-Forwarded-Host")+"/next>")
	})
	p := newTestProxy(t, o.URL)
	kv := []string{"X-Forwarded-Host", "evil.example", "X-Original-URL", "/admin", "X-Forwarded-For", "6.6.6.6"}
	stripped := []string{"X-Secret"}
	for _, f := range poisonable { // every one, sent in lower case: the proxy removes them by canonical name
		kv = append(kv, strings.ToLower(f), "evil")
		stripped = append(stripped, f)
	}
	if !*overH2 { // HTTP/2 has no Connection field (RFC 9113 §8.2.2)
		kv = append(kv, "Connection", "X-Secret", "X-Secret", "hop")
	}
	p.get(t, "/page", kv...)
	last := o.lastRequest()
	for _, f := range stripped {
		if v := last.Header.Get(f); v != "" {
			t.Errorf("origin received %s: %q, want it stripped", f, v)
		}
	}
	if got := last.Header.Get("X-Forwarded-For"); got != "127.0.0.1" {
		t.Errorf("X-Forwarded-For = %q, want the connection's address only", got)
	}
	if got := last.Header.Get("Via"); !strings.Contains(got, "caching-proxy") {
		t.Errorf("Via = %q, want it to name caching-proxy", got)
	}
	if host := strings.TrimPrefix(o.URL, "http://"); last.Host != host {
		t.Errorf("origin saw Host %q, want %q", last.Host, host)
	}
	_, body := p.get(t, "/page")
	if strings.Contains(body, "evil") {
		t.Errorf("shared entry poisoned: %q", body)
	}
}

func TestPublicPortHasNoAdminPaths(t *testing.T) {
	o := newOrigin(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		io.WriteString(w, "origin:"+r.Method+" "+r.URL.Path)
	})
	p := newTestProxy(t, o.URL)
	p.get(t, "/cached")
	for _, tc := range []struct{ method, path string }{
		{"PURGE", "/cached"}, {"DELETE", "/cache"}, {"POST", "/cache/clear"}, {"GET", "/metrics"}, {"GET", "/healthz"},
	} {
		_, body := p.do(t, tc.method, tc.path, nil)
		if want := "origin:" + tc.method + " " + tc.path; body != want {
			t.Errorf("%s %s answered %q, want the origin's %q", tc.method, tc.path, body, want)
		}
	}
}

func TestOriginFailures(t *testing.T) {
	down := httptest.NewServer(http.NotFoundHandler())
	downURL := down.URL
	down.Close()
	p := newTestProxy(t, downURL)
	resp, body := p.get(t, "/x")
	if resp.StatusCode != http.StatusBadGateway || !strings.Contains(body, "origin unreachable") {
		t.Errorf("unreachable origin = %d %q, want 502 with a reason", resp.StatusCode, body)
	}
}

func TestMetricsCountOutcomes(t *testing.T) {
	o := newOrigin(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/nostore" {
			w.Header().Set("Cache-Control", "no-store")
		} else {
			w.Header().Set("Cache-Control", "max-age=60")
		}
	})
	p := newTestProxy(t, o.URL)
	p.get(t, "/a")       // miss
	p.get(t, "/a")       // hit
	p.get(t, "/a")       // hit
	p.get(t, "/nostore") // miss, not stored
	p.do(t, "POST", "/a", nil)
	mfs, err := p.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, mf := range mfs {
		for _, m := range mf.Metric {
			switch mf.GetName() {
			case "caching_proxy_requests_total":
				got[m.Label[0].GetValue()] = m.Counter.GetValue()
			case "caching_proxy_hit_ratio":
				got["ratio"] = m.Gauge.GetValue()
			}
		}
	}
	want := map[string]float64{"hit": 2, "miss": 2, "bypass": 1, "stale": 0, "revalidated": 0, "ratio": 0.5}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("metric %s = %v, want %v", k, got[k], v)
		}
	}
}

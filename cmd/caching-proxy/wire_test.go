package main

import (
	"bufio"
	"context"
	"crypto/tls"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/caching-proxy/caching-proxy/internal/config"
	"github.com/caching-proxy/caching-proxy/internal/tlsreload/tlstest"
)

// A wire mode is how clients reach the public listener. The end-to-end cases below run
// in every mode, so HTTPS, HTTP/2 and cleartext HTTP/1.1 cannot drift apart.
type wireMode struct {
	name   string
	tls    bool // --tls-cert/--tls-key
	h2c    bool // --h2c
	client func(*http.Transport)
	proto  string // what resp.Proto must say
	xfp    string // X-Forwarded-Proto the origin must see
}

var wireModes = []wireMode{
	{"http1.1", false, false, func(tr *http.Transport) {}, "HTTP/1.1", "http"},
	{"https+h2", true, false, func(tr *http.Transport) {
		tr.Protocols = new(http.Protocols)
		tr.Protocols.SetHTTP2(true) // fails unless ALPN picks h2
	}, "HTTP/2.0", "https"},
	{"https+http1.1", true, false, func(tr *http.Transport) {
		tr.Protocols = new(http.Protocols)
		tr.Protocols.SetHTTP1(true) // a client that does not offer h2
	}, "HTTP/1.1", "https"},
	{"h2c", false, true, func(tr *http.Transport) {
		tr.Protocols = new(http.Protocols)
		tr.Protocols.SetUnencryptedHTTP2(true) // prior knowledge
	}, "HTTP/2.0", "http"},
}

// wireProxy is a running proxy in mode m and a client speaking m to it.
type wireProxy struct {
	*runningProxy
	c    *http.Client
	tr   *http.Transport
	pair tlstest.Pair
}

func startWireProxy(t *testing.T, m wireMode, origin string, tweak ...func(*config.Config)) *wireProxy {
	t.Helper()
	w := &wireProxy{pair: tlstest.New(t, "proxy")}
	if m.tls {
		certFile, keyFile := w.pair.Write(t, t.TempDir())
		tweak = append(tweak, func(c *config.Config) { c.TLSCert, c.TLSKey = certFile, keyFile })
	}
	if m.h2c {
		tweak = append(tweak, func(c *config.Config) { c.H2C = true })
	}
	w.runningProxy = startProxy(t, origin, tweak...)
	w.tr = &http.Transport{TLSClientConfig: &tls.Config{RootCAs: w.pair.Pool()}}
	m.client(w.tr)
	t.Cleanup(w.tr.CloseIdleConnections)
	w.c = &http.Client{Transport: w.tr, Timeout: 10 * time.Second}
	return w
}

func (w *wireProxy) get(t *testing.T, m wireMode, path string) (*http.Response, string) {
	t.Helper()
	resp, body := send(t, w.c, http.MethodGet, w.url+path)
	if resp.Proto != m.proto {
		t.Errorf("GET %s spoke %s, want %s", path, resp.Proto, m.proto)
	}
	return resp, body
}

// recordingOrigin answers max-age=60 after an optional gate and records what it saw.
type recordingOrigin struct {
	*httptest.Server
	calls atomic.Int64
	mu    sync.Mutex
	last  http.Header
}

func newRecordingOrigin(t *testing.T, h http.HandlerFunc) *recordingOrigin {
	o := &recordingOrigin{}
	o.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		o.calls.Add(1)
		o.mu.Lock()
		o.last = r.Header.Clone()
		o.mu.Unlock()
		w.Header().Set("Cache-Control", "max-age=60")
		h(w, r)
	}))
	t.Cleanup(o.Close)
	return o
}

func (o *recordingOrigin) lastHeader() http.Header {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.last
}

func TestWireModes(t *testing.T) {
	for _, m := range wireModes {
		t.Run(m.name, func(t *testing.T) {
			t.Parallel()
			t.Run("caching", func(t *testing.T) { t.Parallel(); wireCaching(t, m) })
			t.Run("coalescing", func(t *testing.T) { t.Parallel(); wireCoalescing(t, m) })
			t.Run("streaming", func(t *testing.T) { t.Parallel(); wireStreaming(t, m) })
			t.Run("client abort keeps the fill", func(t *testing.T) { t.Parallel(); wireAbort(t, m) })
			t.Run("limits", func(t *testing.T) { t.Parallel(); wireLimits(t, m) })
		})
	}
}

func wireCaching(t *testing.T, m wireMode) {
	o := newRecordingOrigin(t, func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "product 1") })
	p := startWireProxy(t, m, o.URL)
	resp, body := p.get(t, m, "/products/1")
	if got, cs := resp.Header.Get("X-Cache"), resp.Header.Get("Cache-Status"); got != "MISS" || !strings.HasPrefix(cs, "caching-proxy; fwd=miss; stored") {
		t.Errorf("first GET: X-Cache %q, Cache-Status %q; want MISS and fwd=miss; stored", got, cs)
	}
	resp, body2 := p.get(t, m, "/products/1")
	if got, cs := resp.Header.Get("X-Cache"), resp.Header.Get("Cache-Status"); got != "HIT" || !strings.HasPrefix(cs, "caching-proxy; hit") {
		t.Errorf("second GET: X-Cache %q, Cache-Status %q; want HIT and hit", got, cs)
	}
	if body != "product 1" || body2 != body || o.calls.Load() != 1 {
		t.Errorf("bodies %q, %q, origin calls %d; want %q twice and 1 call", body, body2, o.calls.Load(), "product 1")
	}
	h := o.lastHeader()
	if got := h.Get("X-Forwarded-Proto"); got != m.xfp {
		t.Errorf("origin saw X-Forwarded-Proto %q, want %q", got, m.xfp)
	}
	wantVia := strings.TrimSuffix(strings.TrimPrefix(m.proto, "HTTP/"), ".0") + " caching-proxy"
	if got := h.Get("Via"); got != wantVia {
		t.Errorf("origin saw Via %q, want %q (RFC 9110 §7.6.3)", got, wantVia)
	}
}

func wireCoalescing(t *testing.T, m wireMode) {
	release := make(chan struct{})
	o := newRecordingOrigin(t, func(w http.ResponseWriter, r *http.Request) {
		<-release
		io.WriteString(w, "shared")
	})
	p := startWireProxy(t, m, o.URL)
	const n = 20 // over HTTP/2, streams of one connection
	var wg sync.WaitGroup
	bodies := make([]string, n)
	for i := range n {
		wg.Go(func() { _, bodies[i] = p.get(t, m, "/burst") })
	}
	waitUntil(t, "the first request reaches the origin", func() bool { return o.calls.Load() > 0 })
	time.Sleep(100 * time.Millisecond) // let the others queue behind it
	close(release)
	wg.Wait()
	for i, b := range bodies {
		if b != "shared" {
			t.Errorf("request %d got %q, want %q", i, b, "shared")
		}
	}
	if got := o.calls.Load(); got != 1 {
		t.Errorf("origin saw %d requests for %d concurrent misses, want 1", got, n)
	}
}

func wireStreaming(t *testing.T, m wireMode) {
	more := make(chan struct{})
	defer func() {
		select {
		case <-more:
		default:
			close(more)
		}
	}()
	o := newRecordingOrigin(t, func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "first;")
		w.(http.Flusher).Flush()
		<-more
		io.WriteString(w, "second")
	})
	p := startWireProxy(t, m, o.URL)
	resp, err := p.c.Get(p.url + "/stream")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	first, err := bufio.NewReader(resp.Body).ReadString(';')
	if err != nil || first != "first;" {
		t.Fatalf("read %q, %v before the origin finished; want %q", first, err, "first;")
	}
	close(more)
}

// wireAbort: the leader of a fill leaves mid-body (over HTTP/2 a RST_STREAM, over
// HTTP/1.1 a closed connection); a request waiting for the same key still gets the whole
// body from that one fetch, and the next is a hit.
func wireAbort(t *testing.T, m wireMode) {
	more := make(chan struct{})
	o := newRecordingOrigin(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "12")
		io.WriteString(w, "first;")
		w.(http.Flusher).Flush()
		<-more
		io.WriteString(w, "second")
	})
	p := startWireProxy(t, m, o.URL)
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, p.url+"/leave", nil)
	resp, err := p.c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bufio.NewReader(resp.Body).ReadString(';'); err != nil {
		t.Fatal(err)
	}
	waiter := make(chan string, 1)
	go func() { _, b := p.get(t, m, "/leave"); waiter <- b }() // same connection under HTTP/2
	time.Sleep(100 * time.Millisecond)                         // queued behind the fill
	cancel()                                                   // the leader resets its stream
	resp.Body.Close()
	time.Sleep(50 * time.Millisecond)
	close(more)
	select {
	case b := <-waiter:
		if b != "first;second" {
			t.Errorf("the waiter got %q, want the whole body", b)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the waiter never got an answer")
	}
	resp, body := p.get(t, m, "/leave")
	if resp.Header.Get("X-Cache") != "HIT" || body != "first;second" || o.calls.Load() != 1 {
		t.Errorf("after the leader left: X-Cache %q, body %q, origin calls %d; want HIT, the whole body, 1 call",
			resp.Header.Get("X-Cache"), body, o.calls.Load())
	}
}

// wireLimits: the header limit holds whatever the framing (HTTP/2 advertises it as
// SETTINGS_MAX_HEADER_LIST_SIZE, and Go's client refuses to send more); an oversized
// request never reaches the origin.
func wireLimits(t *testing.T, m wireMode) {
	o := newRecordingOrigin(t, func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") })
	p := startWireProxy(t, m, o.URL)
	req, _ := http.NewRequest(http.MethodGet, p.url+"/big", nil)
	req.Header.Set("X-Big", strings.Repeat("a", maxHeaderBytes+8<<10))
	resp, err := p.c.Do(req)
	if err == nil {
		resp.Body.Close()
		if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
			t.Errorf("oversized header: %d, want 431 or a refused request", resp.StatusCode)
		}
	}
	if n := o.calls.Load(); n != 0 {
		t.Errorf("the oversized request reached the origin (%d calls)", n)
	}
	if resp, body := p.get(t, m, "/small"); resp.StatusCode != 200 || body != "ok" {
		t.Errorf("after the oversized one: %d %q, want 200 ok", resp.StatusCode, body)
	}
}

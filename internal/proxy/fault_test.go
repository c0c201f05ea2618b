package proxy

import (
	"bufio"
	"crypto/tls"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"runtime"
	"runtime/pprof"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// The fault matrix: what a client sees and what the cache holds when the origin
// misbehaves. docs/reliability.md has the same table; keep them together.

// script answers one request on a raw origin connection; call counts from 1.
type script func(call int64, c net.Conn, r *http.Request)

// scriptedOrigin is an origin on a raw listener, for faults no net/http server commits:
// it parses each connection's request, counts it, hands the connection to the script
// and closes it afterwards. Every connection is bounded by a 10s deadline.
type scriptedOrigin struct {
	ln     net.Listener
	calls  atomic.Int64
	script script
	mu     sync.Mutex
	conns  map[net.Conn]struct{} // nil once closed
	wg     sync.WaitGroup
}

func newScriptedOrigin(t *testing.T, s script) *scriptedOrigin {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	o := &scriptedOrigin{ln: ln, script: s, conns: map[net.Conn]struct{}{}}
	o.wg.Add(1)
	go o.accept()
	t.Cleanup(o.close)
	return o
}

func (o *scriptedOrigin) URL() string { return "http://" + o.ln.Addr().String() }

func (o *scriptedOrigin) accept() {
	defer o.wg.Done()
	for {
		c, err := o.ln.Accept()
		if err != nil {
			return
		}
		o.mu.Lock()
		if o.conns == nil {
			o.mu.Unlock()
			c.Close()
			return
		}
		o.conns[c] = struct{}{}
		o.wg.Add(1)
		o.mu.Unlock()
		go o.serve(c)
	}
}

func (o *scriptedOrigin) serve(c net.Conn) {
	defer o.wg.Done()
	defer func() {
		o.mu.Lock()
		delete(o.conns, c)
		o.mu.Unlock()
		c.Close()
	}()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	r, err := http.ReadRequest(bufio.NewReader(c))
	if err != nil {
		return
	}
	o.script(o.calls.Add(1), c, r)
}

// refuse stops listening: from now on a dial is refused.
func (o *scriptedOrigin) refuse() { o.ln.Close() }

func (o *scriptedOrigin) close() {
	o.ln.Close()
	o.mu.Lock()
	for c := range o.conns {
		c.Close()
	}
	o.conns = nil
	o.mu.Unlock()
	o.wg.Wait()
}

// scriptRespond answers with a well-formed response; header is CRLF-terminated lines.
func scriptRespond(status int, header, body string) script {
	return func(_ int64, c net.Conn, _ *http.Request) {
		fmt.Fprintf(c, "HTTP/1.1 %d %s\r\n%sContent-Length: %d\r\nConnection: close\r\n\r\n%s",
			status, http.StatusText(status), header, len(body), body)
	}
}

// scriptRaw writes s as it is, whatever it is.
func scriptRaw(s string) script {
	return func(_ int64, c net.Conn, _ *http.Request) { _, _ = io.WriteString(c, s) }
}

// scriptHang reads until the proxy hangs up (or the connection's deadline passes).
func scriptHang(_ int64, c net.Conn, _ *http.Request) { _, _ = io.Copy(io.Discard, c) }

// scriptMidBody sends a cacheable 200 announcing 64 KiB, 16 KiB of it (enough for the proxy
// to have flushed headers and part of the body to the client), then fails with then.
func scriptMidBody(then func(net.Conn)) script {
	return func(_ int64, c net.Conn, _ *http.Request) {
		fmt.Fprintf(c, "HTTP/1.1 200 OK\r\nCache-Control: max-age=60\r\nContent-Length: %d\r\n\r\n%s", 64<<10, strings.Repeat("x", 16<<10))
		then(c)
	}
}

func resetConn(c net.Conn) {
	_ = c.(*net.TCPConn).SetLinger(0) // Close sends RST, not FIN
	c.Close()
}

// scriptPrimeThen answers the first request with a good response ("last good"), every later one with fault.
func scriptPrimeThen(header string, fault script) script {
	good := scriptRespond(http.StatusOK, header, "last good")
	return func(call int64, c net.Conn, r *http.Request) {
		if call == 1 {
			good(call, c, r)
			return
		}
		fault(call, c, r)
	}
}

// newFaultProxy is newTestProxy with short origin timeouts, no keep-alive to the origin
// (so every request the origin counts is one the proxy sent, never a transport retry)
// and silent logs.
func newFaultProxy(t *testing.T, originURL string, staleIfError time.Duration) *testProxy {
	t.Helper()
	tr := NewTransport(TransportOptions{ConnectTimeout: time.Second, ResponseHeaderTimeout: 300 * time.Millisecond, BodyTimeout: 300 * time.Millisecond, DisableKeepAlives: true})
	t.Cleanup(tr.CloseIdleConnections)
	return newTestProxy(t, originURL, func(o *Options) {
		o.Transport = tr
		o.StaleIfError = staleIfError
		o.Logger = slog.New(slog.DiscardHandler)
	})
}

// faultResult is what a client got: a response and its body, or an error on the way.
type faultResult struct {
	status int
	header http.Header
	body   string
	err    error // from sending the request or from reading the body
}

func (r faultResult) String() string {
	return fmt.Sprintf("%d %q (Cache-Status %q, err %v)", r.status, r.body, r.header.Get("Cache-Status"), r.err)
}

// faultClient opens a connection per request: a broken response then cannot make the
// client retry on a fresh connection behind the test's back.
func faultClient(t *testing.T) *http.Client {
	tr := &http.Transport{DisableKeepAlives: true}
	if *overH2 {
		tr.TLSClientConfig = &tls.Config{InsecureSkipVerify: true} // httptest's own certificate
		tr.Protocols = h2Only()
	}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 10 * time.Second}
}

func fetchResult(c *http.Client, url string) faultResult {
	resp, err := c.Get(url)
	if err != nil {
		return faultResult{header: http.Header{}, err: err}
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return faultResult{status: resp.StatusCode, header: resp.Header, body: string(b), err: err}
}

// faultSees is what a client should see.
type faultSees struct {
	status int    // 0 when no complete response can arrive
	body   string // for a 200 the whole body; otherwise a reason the body contains
	broken bool   // the response ends in an error: the client can tell it is incomplete
}

func (w faultSees) check(t *testing.T, got faultResult) {
	t.Helper()
	if w.broken {
		if got.err == nil {
			t.Errorf("client got a complete response %v, want a broken one", got)
		}
		if got.status != 0 && got.status != w.status {
			t.Errorf("broken response had status %d, want %d", got.status, w.status)
		}
		return
	}
	switch {
	case got.err != nil:
		t.Errorf("client got %v, want %d without error", got, w.status)
	case got.status != w.status:
		t.Errorf("client got %v, want status %d", got, w.status)
	case w.status == http.StatusOK && got.body != w.body:
		t.Errorf("client got body %q, want %q", got.body, w.body)
	case w.status != http.StatusOK && !strings.Contains(got.body, w.body):
		t.Errorf("client got body %q, want it to contain %q", got.body, w.body)
	}
}

// faultHolds is what the cache keeps of a response after a fault.
type faultHolds int

const (
	holdsNothing faultHolds = iota // no entry: the next request goes to the origin
	holdsFresh                     // a usable entry: the next request is a hit
	holdsStale                     // an entry kept only for max-stale or revalidation: the next request still goes to the origin
)

type faultCase struct {
	name   string
	origin script     // nil: nothing listens (connection refused)
	sees   faultSees  // on an empty cache
	holds  faultHolds // what the cache holds afterwards
	// With a stale stored copy that stale-if-error covers:
	stale   string // Cache-Status of the stale copy served instead; "" when the client sees what sees says
	noStale bool   // the fault is a usable response: it replaces a stale copy, no stale case to run
}

var (
	staleOnErr    = "fwd=stale; detail=stale-if-error"
	staleOnStatus = func(code int) string { return fmt.Sprintf("fwd=stale; fwd-status=%d; detail=stale-if-error", code) }
	brokenBody    = faultSees{status: http.StatusOK, broken: true}
)

var faultCases = []faultCase{
	{name: "connection refused", sees: faultSees{status: 502, body: "origin unreachable"}, stale: staleOnErr},
	{name: "hangs before headers", origin: scriptHang, sees: faultSees{status: 504, body: "origin timed out"}, stale: staleOnErr},
	{name: "hangs mid-body", origin: scriptMidBody(func(c net.Conn) { _, _ = io.Copy(io.Discard, c) }), sees: brokenBody},
	{name: "reset mid-body", origin: scriptMidBody(resetConn), sees: brokenBody},
	{name: "closes mid-body", origin: scriptMidBody(func(c net.Conn) { c.Close() }), sees: brokenBody},
	{name: "fewer bytes than Content-Length", sees: brokenBody,
		origin: scriptRaw("HTTP/1.1 200 OK\r\nCache-Control: max-age=60\r\nContent-Length: 100\r\n\r\nonly ten b")},
	{name: "500", origin: scriptRespond(500, "", "boom"), sees: faultSees{status: 500, body: "boom"}, stale: staleOnStatus(500)},
	{name: "502", origin: scriptRespond(502, "", "upstream of origin down"), sees: faultSees{status: 502, body: "upstream of origin down"}, stale: staleOnStatus(502)},
	{name: "503", origin: scriptRespond(503, "Retry-After: 5\r\n", "maintenance"), sees: faultSees{status: 503, body: "maintenance"}, stale: staleOnStatus(503)},
	{name: "malformed status line", origin: scriptRaw("HTTP/1.1 two hundred OK\r\n\r\n"),
		sees: faultSees{status: 502, body: "malformed response from origin"}, stale: staleOnErr},
	{name: "duplicate conflicting Content-Length", origin: conflictingLengths, stale: staleOnErr,
		sees: faultSees{status: 502}}, // the reason is wrong: see TestConflictingContentLengthIsReportedMalformed
	{name: "more bytes than Content-Length", noStale: true, holds: holdsFresh, // HTTP framing: the declared 5 are the body
		origin: scriptRaw("HTTP/1.1 200 OK\r\nCache-Control: max-age=60\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello, and then some"),
		sees:   faultSees{status: 200, body: "hello"}},
	{name: "garbage Cache-Control", noStale: true, holds: holdsStale, // every directive dropped: no freshness
		origin: scriptRespond(200, "Cache-Control: max-age=ab, =5, ;;, \"x, max-age\r\n", "g"), sees: faultSees{status: 200, body: "g"}},
	{name: "garbage around a valid max-age", noStale: true, holds: holdsFresh,
		origin: scriptRespond(200, "Cache-Control: =, max-age=60, max-age=abc, ;;;, max-age=\"\r\n", "g"), sees: faultSees{status: 200, body: "g"}},
	{name: "Expires: 0", noStale: true, holds: holdsStale, // an invalid date means already expired (RFC 9111 §5.3)
		origin: scriptRespond(200, "Expires: 0\r\n", "e"), sees: faultSees{status: 200, body: "e"}},
	{name: "negative Age", noStale: true, holds: holdsFresh, // an invalid Age is ignored (RFC 9111 §5.1): fresh for max-age
		origin: scriptRespond(200, "Cache-Control: max-age=60\r\nAge: -5\r\n", "a"), sees: faultSees{status: 200, body: "a"}},
	{name: "Age past 2^31", noStale: true, holds: holdsNothing, // counts as 2^31 s (RFC 9111 §1.2.2): past any window
		origin: scriptRespond(200, "Cache-Control: max-age=60\r\nAge: 99999999999\r\n", "a"), sees: faultSees{status: 200, body: "a"}},
	{name: "stale on arrival, must-revalidate, no validator", noStale: true, holds: holdsNothing, // cannot be reused at all
		origin: scriptRespond(200, "Cache-Control: max-age=60, must-revalidate\r\nAge: 60\r\n", "m"), sees: faultSees{status: 200, body: "m"}},
}

func TestFaultMatrix(t *testing.T) {
	before := runtime.NumGoroutine()
	client := faultClient(t)

	t.Run("empty cache", func(t *testing.T) {
		for _, f := range faultCases {
			t.Run(f.name, func(t *testing.T) {
				o := newScriptedOrigin(t, f.origin)
				if f.origin == nil {
					o.refuse()
				}
				p := newFaultProxy(t, o.URL(), 0)
				for i := range 2 {
					got := fetchResult(client, p.URL+"/f")
					f.sees.check(t, got)
					switch xc := got.header.Get("X-Cache"); {
					case i == 1 && f.holds == holdsFresh && xc != "HIT":
						t.Errorf("second request: %v, want a hit", got)
					case i == 1 && f.holds != holdsFresh && got.status != 0 && xc != "MISS":
						t.Errorf("second request: %v, want it forwarded (X-Cache MISS)", got)
					}
				}
				p.h.store.Wait()
				if _, ok := p.h.store.Get("/f"); ok != (f.holds != holdsNothing) {
					t.Errorf("an entry is stored: %v, want %v", ok, f.holds != holdsNothing)
				}
				want := int64(2)
				switch {
				case f.origin == nil:
					want = 0
				case f.holds == holdsFresh:
					want = 1
				}
				if got := o.calls.Load(); got != want {
					t.Errorf("origin saw %d requests for 2 client requests, want %d", got, want)
				}
			})
		}
	})

	// A stale copy the origin's failure may be answered with: once because the response
	// said stale-if-error, once because the operator's --stale-if-error did.
	for _, v := range []struct {
		name   string
		header string
		window time.Duration
	}{
		{"stale-if-error in response", "Cache-Control: max-age=60, stale-if-error=600\r\nAge: 60\r\n", 0},
		{"operator stale-if-error", "Cache-Control: max-age=60\r\nAge: 60\r\n", 10 * time.Minute},
	} {
		t.Run(v.name, func(t *testing.T) {
			for _, f := range faultCases {
				if f.noStale {
					continue
				}
				t.Run(f.name, func(t *testing.T) {
					fault := f.origin
					if fault == nil {
						fault = scriptHang // never reached: the listener is closed first
					}
					o := newScriptedOrigin(t, scriptPrimeThen(v.header, fault))
					p := newFaultProxy(t, o.URL(), v.window)
					if got := fetchResult(client, p.URL+"/f"); got.err != nil || got.body != "last good" {
						t.Fatalf("priming: %v", got)
					}
					p.h.store.Wait()
					kept, ok := p.h.store.Get("/f")
					if !ok {
						t.Fatal("the stale-on-arrival response was not stored")
					}
					if f.origin == nil {
						o.refuse()
					}
					for i := range 2 {
						got := fetchResult(client, p.URL+"/f")
						if f.stale == "" {
							f.sees.check(t, got)
							continue
						}
						if got.err != nil || got.status != 200 || got.body != "last good" {
							t.Errorf("request %d: %v, want the stale 200 %q", i+2, got, "last good")
						}
						if cs := got.header.Get("Cache-Status"); cs != Name+"; "+f.stale {
							t.Errorf("Cache-Status = %q, want %q", cs, Name+"; "+f.stale)
						}
						if xc := got.header.Get("X-Cache"); xc != "HIT" {
							t.Errorf("X-Cache = %q, want HIT", xc)
						}
					}
					// The stale copy is kept as it was and never passes for fresh:
					// each request asks the origin again.
					if e, ok := p.h.store.Get("/f"); !ok || e != kept {
						t.Errorf("stored entry changed after the failures (present %v)", ok)
					}
					want := int64(3)
					if f.origin == nil {
						want = 1
					}
					if got := o.calls.Load(); got != want {
						t.Errorf("origin saw %d requests, want %d", got, want)
					}
				})
			}
		})
	}

	client.CloseIdleConnections()
	checkGoroutines(t, before, 5)
}

var conflictingLengths = scriptRaw("HTTP/1.1 200 OK\r\nCache-Control: max-age=60\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!")

func TestConflictingContentLengthIsReportedMalformed(t *testing.T) {
	o := newScriptedOrigin(t, conflictingLengths)
	p := newFaultProxy(t, o.URL(), 0)
	faultSees{status: 502, body: "malformed response from origin"}.check(t, fetchResult(faultClient(t), p.URL+"/f"))
}

// TestCacheStatusSaysStoredOnlyWhenStored: RFC 9211 §2.5, "stored" says the cache stored the response.
func TestCacheStatusSaysStoredOnlyWhenStored(t *testing.T) {
	for _, h := range []string{
		"Cache-Control: max-age=60\r\nAge: 99999999999\r\n",
		"Cache-Control: max-age=60, must-revalidate\r\nAge: 60\r\n",
	} {
		o := newScriptedOrigin(t, scriptRespond(200, h, "x"))
		p := newFaultProxy(t, o.URL(), 0)
		got := fetchResult(faultClient(t), p.URL+"/f")
		p.h.store.Wait()
		_, stored := p.h.store.Get("/f")
		if cs := got.header.Get("Cache-Status"); strings.HasSuffix(cs, "; stored") != stored {
			t.Errorf("%q: Cache-Status = %q, entry stored = %v", h, cs, stored)
		}
	}
}

// checkGoroutines fails if, after a bounded settle, more than slack goroutines
// outlive what was running before.
func checkGoroutines(t *testing.T, before, slack int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	n := runtime.NumGoroutine()
	for n > before+slack && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
		n = runtime.NumGoroutine()
	}
	if n > before+slack {
		var b strings.Builder
		_ = pprof.Lookup("goroutine").WriteTo(&b, 1)
		t.Errorf("goroutines: %d before, %d after settling; want at most %d more\n%s", before, n, slack, b.String())
	}
}

func TestStaleWhileRevalidateRefreshesOnce(t *testing.T) {
	gate := make(chan struct{})
	o := newOrigin(t, func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("If-None-Match") == "" && r.Header.Get("X-Prime") != "" {
			w.Header().Set("Cache-Control", "max-age=1, stale-while-revalidate=60")
			w.Header().Set("Age", "1") // stale on arrival
			w.Header().Set("ETag", `"v1"`)
			io.WriteString(w, "v1")
			return
		}
		select { // the refresh waits until every client has been answered
		case <-gate:
		case <-time.After(10 * time.Second):
		}
		w.Header().Set("Cache-Control", "max-age=60")
		w.Header().Set("ETag", `"v2"`)
		io.WriteString(w, "v2")
	})
	p := newTestProxy(t, o.URL, func(opt *Options) { opt.Logger = slog.New(slog.DiscardHandler) })
	if _, body := p.get(t, "/swr", "X-Prime", "1"); body != "v1" {
		t.Fatalf("priming body = %q, want v1", body)
	}
	p.h.store.Wait()

	const n = 20
	var wg sync.WaitGroup
	got := make(chan faultResult, n)
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got <- fetchResult(p.Client(), p.URL+"/swr")
		}()
	}
	wg.Wait() // all answered while the refresh is still held at the origin
	close(got)
	for r := range got {
		if r.err != nil || r.status != 200 || r.body != "v1" {
			t.Errorf("concurrent request: %v, want the stale v1 at once", r)
			continue
		}
		if cs := r.header.Get("Cache-Status"); !strings.HasPrefix(cs, Name+"; hit; ttl=") || !strings.HasSuffix(cs, "; detail=stale-while-revalidate") {
			t.Errorf("Cache-Status = %q, want %q", cs, Name+"; hit; ttl=N; detail=stale-while-revalidate")
		}
	}
	waitFor(t, func() bool { return o.calls.Load() >= 2 })
	close(gate)
	// Bounded poll until the refreshed copy is served; no request may reach the origin meanwhile.
	deadline := time.Now().Add(5 * time.Second)
	for {
		r := fetchResult(p.Client(), p.URL+"/swr")
		if r.body == "v2" {
			if cs := r.header.Get("Cache-Status"); !strings.HasPrefix(cs, Name+"; hit; ttl=") || strings.Contains(cs, "detail=") {
				t.Errorf("after the refresh Cache-Status = %q, want a plain hit", cs)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("refresh not stored after 5s; last response %v", r)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if got := o.calls.Load(); got != 2 {
		t.Errorf("origin saw %d requests, want 2 (the first fetch and one background refresh for %d stale hits)", got, n)
	}
}

// TestRevalidateOnlyResponsesAreNeverServedStale: must-revalidate, proxy-revalidate,
// s-maxage (RFC 9111 §5.2.2.2, §5.2.2.8, §5.2.2.10) and no-cache (§5.2.2.4) forbid a
// stale answer, whatever stale-if-error or stale-while-revalidate say.
func TestRevalidateOnlyResponsesAreNeverServedStale(t *testing.T) {
	responses := []struct{ name, header string }{
		// Stale on arrival; the ETag keeps them stored for revalidation.
		{"must-revalidate", "Cache-Control: max-age=60, must-revalidate, stale-if-error=600, stale-while-revalidate=600\r\nAge: 60\r\nETag: \"v1\"\r\n"},
		{"proxy-revalidate", "Cache-Control: max-age=60, proxy-revalidate, stale-if-error=600\r\nAge: 60\r\nETag: \"v1\"\r\n"},
		{"s-maxage", "Cache-Control: s-maxage=60, stale-if-error=600, stale-while-revalidate=600\r\nAge: 60\r\nETag: \"v1\"\r\n"},
		{"no-cache", "Cache-Control: no-cache, max-age=60, stale-if-error=600, stale-while-revalidate=600\r\nETag: \"v1\"\r\n"},
	}
	downs := []struct {
		name   string
		origin script // nil: refused
		sees   faultSees
	}{
		{"refused", nil, faultSees{status: 502, body: "origin unreachable"}},
		{"hangs", scriptHang, faultSees{status: 504, body: "origin timed out"}},
		{"503", scriptRespond(503, "", "down"), faultSees{status: 503, body: "down"}},
	}
	client := faultClient(t)
	for _, resp := range responses {
		for _, down := range downs {
			t.Run(resp.name+"/"+down.name, func(t *testing.T) {
				fault := down.origin
				if fault == nil {
					fault = scriptHang
				}
				o := newScriptedOrigin(t, scriptPrimeThen(resp.header, fault))
				p := newFaultProxy(t, o.URL(), time.Hour)
				if got := fetchResult(client, p.URL+"/f"); got.body != "last good" {
					t.Fatalf("priming: %v", got)
				}
				p.h.store.Wait()
				if _, ok := p.h.store.Get("/f"); !ok {
					t.Fatal("the response was not stored: the case proves nothing")
				}
				if down.origin == nil {
					o.refuse()
				}
				got := fetchResult(client, p.URL+"/f")
				down.sees.check(t, got)
				if cs := got.header.Get("Cache-Status"); strings.Contains(cs, "detail=stale-") || got.body == "last good" {
					t.Errorf("served stale: %v", got)
				}
			})
		}
	}
}

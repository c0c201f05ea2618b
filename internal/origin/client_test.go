package origin

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func newClient(t *testing.T, o Options) *Client {
	t.Helper()
	c := New(o)
	t.Cleanup(c.CloseIdleConnections)
	return c
}

func get(t *testing.T, c *Client, url string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := c.RoundTrip(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatalf("GET %s: reading the body: %v", url, err)
	}
	return resp, string(b)
}

// countConns counts the connections a test server accepts.
func countConns(s *httptest.Server) *atomic.Int64 {
	var n atomic.Int64
	s.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		if st == http.StateNew {
			n.Add(1)
		}
	}
	return &n
}

func TestKeepAliveReusesOneConnection(t *testing.T) {
	s := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "hello "+r.URL.Path)
	}))
	conns := countConns(s)
	s.Start()
	defer s.Close()
	c := newClient(t, Options{})
	for i := range 5 {
		if _, body := get(t, c, fmt.Sprintf("%s/%d", s.URL, i)); body != fmt.Sprintf("hello /%d", i) {
			t.Fatalf("body %q", body)
		}
	}
	if n := conns.Load(); n != 1 {
		t.Errorf("5 sequential requests used %d connections, want 1", n)
	}
}

func TestDisableKeepAlivesSendsConnectionClose(t *testing.T) {
	var closes atomic.Int64
	s := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Close {
			closes.Add(1)
		}
	}))
	conns := countConns(s)
	s.Start()
	defer s.Close()
	c := newClient(t, Options{DisableKeepAlives: true})
	for range 3 {
		get(t, c, s.URL)
	}
	if conns.Load() != 3 || closes.Load() != 3 {
		t.Errorf("%d connections, %d with Connection: close, want 3 and 3", conns.Load(), closes.Load())
	}
}

// TestFieldsPassExactlyBothWays: repeated fields stay separate lines in order, in both
// directions, and names keep net/http's canonical form (no joining, no dropping).
func TestFieldsPassExactlyBothWays(t *testing.T) {
	var got http.Header
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = r.Header.Clone()
		h := w.Header()
		h["Content-Encoding"] = []string{"gzip", "br"}
		h["Set-Cookie"] = []string{"a=1", "a=2", "b=3"}
		h["X-Odd"] = []string{"1", "2"}
	}))
	defer s.Close()
	c := newClient(t, Options{})
	req, _ := http.NewRequest(http.MethodGet, s.URL, nil)
	req.Header["Cookie"] = []string{"a=1", "b=2"}
	req.Header["X-Repeat"] = []string{"one", "two, three"}
	resp, err := c.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if v := got["Cookie"]; strings.Join(v, "|") != "a=1|b=2" {
		t.Errorf("origin got Cookie %q", v)
	}
	if v := got["X-Repeat"]; strings.Join(v, "|") != "one|two, three" {
		t.Errorf("origin got X-Repeat %q", v)
	}
	for k, want := range map[string]string{"Content-Encoding": "gzip|br", "Set-Cookie": "a=1|a=2|b=3", "X-Odd": "1|2"} {
		if v := resp.Header[k]; strings.Join(v, "|") != want {
			t.Errorf("response %s = %q, want %q", k, v, want)
		}
	}
}

// rawOrigin hands each connection to handle and returns its URL.
func rawOrigin(t *testing.T, handle func(c net.Conn, br *bufio.Reader)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				_ = c.SetDeadline(time.Now().Add(10 * time.Second))
				handle(c, bufio.NewReader(c))
			}()
		}
	}()
	return "http://" + ln.Addr().String()
}

// TestReusedConnectionClosedIsRetriedOnceForIdempotentOnly: an origin that answers one
// request per connection without saying Connection: close. The next GET on the kept
// connection finds it closed and is asked again on a new one; a POST never is.
func TestReusedConnectionClosedIsRetriedOnceForIdempotentOnly(t *testing.T) {
	var reqs, posts atomic.Int64
	url := rawOrigin(t, func(c net.Conn, br *bufio.Reader) {
		r, err := http.ReadRequest(br)
		if err != nil {
			return
		}
		reqs.Add(1)
		if r.Method == http.MethodPost {
			posts.Add(1)
			return // read, then closed without an answer
		}
		io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
		// keeps the connection open until the client sends the next request, then closes it
		_, _ = br.Peek(1)
	})
	c := newClient(t, Options{})
	for i := range 3 {
		if _, body := get(t, c, url); body != "ok" {
			t.Fatalf("GET %d: body %q", i, body)
		}
	}
	if reqs.Load() != 3 {
		t.Errorf("origin read %d requests for 3 GETs, want 3 (one retry each is invisible to it)", reqs.Load())
	}

	// A POST on a kept connection that the origin closes when it arrives: an error,
	// never a second submission on a new connection.
	get(t, c, url) // leaves an idle connection
	req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader("x"))
	if _, err := c.RoundTrip(req); err == nil {
		t.Fatal("POST answered, want an error")
	}
	if posts.Load() != 0 {
		t.Errorf("the POST was sent again on a new connection (%d)", posts.Load())
	}
}

// TestGetRetriedOnlyOnce: an origin that closes every connection without answering.
func TestGetRetriedOnlyOnce(t *testing.T) {
	var reqs atomic.Int64
	first := true
	var mu sync.Mutex
	url := rawOrigin(t, func(c net.Conn, br *bufio.Reader) {
		for {
			if _, err := http.ReadRequest(br); err != nil {
				return
			}
			reqs.Add(1)
			mu.Lock()
			answer := first
			first = false
			mu.Unlock()
			if !answer {
				return
			}
			io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
		}
	})
	c := newClient(t, Options{})
	get(t, c, url) // a kept-alive connection
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	if _, err := c.RoundTrip(req); err == nil {
		t.Fatal("answered, want an error")
	}
	if n := reqs.Load(); n != 3 {
		t.Errorf("origin read %d requests, want 3 (the first, then one GET sent twice)", n)
	}
}

func TestResponseHeaderTimeout(t *testing.T) {
	release := make(chan struct{})
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-release
	}))
	defer s.Close()
	defer close(release)
	c := newClient(t, Options{ResponseHeaderTimeout: 100 * time.Millisecond})
	req, _ := http.NewRequest(http.MethodGet, s.URL, nil)
	start := time.Now()
	_, err := c.RoundTrip(req)
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("err = %v, want a timeout", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("took %v", d)
	}
}

// TestBodyIsNotUnderTheHeaderTimeout: the header timeout ends with the header; a body
// that takes longer still arrives, and its first bytes before its last.
func TestBodyIsNotUnderTheHeaderTimeout(t *testing.T) {
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "first ")
		w.(http.Flusher).Flush()
		time.Sleep(1500 * time.Millisecond)
		io.WriteString(w, "last")
	}))
	defer s.Close()
	c := newClient(t, Options{ResponseHeaderTimeout: 500 * time.Millisecond})
	req, _ := http.NewRequest(http.MethodGet, s.URL, nil)
	resp, err := c.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	buf := make([]byte, 6)
	if _, err := io.ReadFull(resp.Body, buf); err != nil || string(buf) != "first " {
		t.Fatalf("first bytes %q, %v", buf, err)
	}
	rest, err := io.ReadAll(resp.Body)
	if err != nil || string(rest) != "last" {
		t.Errorf("rest %q, %v", rest, err)
	}
}

func TestCanceledContextAbortsTheWait(t *testing.T) {
	release := make(chan struct{})
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-release }))
	defer s.Close()
	defer close(release)
	c := newClient(t, Options{})
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(50*time.Millisecond, cancel)
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, s.URL, nil)
	if _, err := c.RoundTrip(req); !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v, want context.Canceled", err)
	}
}

// TestRequestBodyStreams: a body of unknown length goes out chunked, as it is read.
func TestRequestBodyStreams(t *testing.T) {
	got := make(chan string, 1)
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got <- fmt.Sprintf("%v %d %s", r.TransferEncoding, r.ContentLength, b)
		io.WriteString(w, "stored")
	}))
	defer s.Close()
	c := newClient(t, Options{})
	pr, pw := io.Pipe()
	go func() {
		pw.Write([]byte("part one, "))
		time.Sleep(20 * time.Millisecond)
		pw.Write([]byte("part two"))
		pw.Close()
	}()
	req, _ := http.NewRequest(http.MethodPost, s.URL, pr)
	resp, err := c.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if g := <-got; g != "[chunked] -1 part one, part two" || string(b) != "stored" {
		t.Errorf("origin got %q, client got %q", g, b)
	}
}

// TestEarlyAnswerToAnUpload: an origin that answers before reading the request body.
func TestEarlyAnswerToAnUpload(t *testing.T) {
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Connection", "close")
		http.Error(w, "too large", http.StatusRequestEntityTooLarge)
	}))
	defer s.Close()
	c := newClient(t, Options{})
	req, _ := http.NewRequest(http.MethodPut, s.URL, io.LimitReader(zeros{}, 64<<20))
	req.ContentLength = 64 << 20
	resp, err := c.RoundTrip(req)
	if err != nil {
		t.Fatalf("err = %v, want the origin's 413", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Errorf("status %d, want 413", resp.StatusCode)
	}
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) { clear(p); return len(p), nil }

func TestHTTPSOriginSpeaksHTTP1(t *testing.T) {
	s := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, r.Proto)
	}))
	s.EnableHTTP2 = true
	s.StartTLS()
	defer s.Close()
	pool := x509.NewCertPool()
	pool.AddCert(s.Certificate())
	c := newClient(t, Options{TLSConfig: &tls.Config{RootCAs: pool}})
	resp, body := get(t, c, s.URL)
	if body != "HTTP/1.1" || resp.TLS == nil {
		t.Errorf("origin saw %q (TLS state %v), want HTTP/1.1 over TLS", body, resp.TLS != nil)
	}
	get(t, c, s.URL)
}

func TestMalformedAndOversizedHeaders(t *testing.T) {
	for _, tc := range []struct {
		name, response, want string
	}{
		{"status line", "HTTP/1.1 two hundred OK\r\n\r\n", "malformed HTTP"},
		{"conflicting lengths", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!", "Content-Length"},
		{"header too large", "HTTP/1.1 200 OK\r\nX-Big: " + strings.Repeat("a", maxHeaderBytes) + "\r\n\r\n", "server response headers exceeded"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			url := rawOrigin(t, func(c net.Conn, br *bufio.Reader) {
				if _, err := http.ReadRequest(br); err == nil {
					io.WriteString(c, tc.response)
				}
			})
			c := newClient(t, Options{})
			req, _ := http.NewRequest(http.MethodGet, url, nil)
			if _, err := c.RoundTrip(req); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want one containing %q", err, tc.want)
			}
		})
	}
}

// TestIdleConnectionsExpire: an idle connection is closed after IdleConnTimeout.
func TestIdleConnectionsExpire(t *testing.T) {
	s := httptest.NewUnstartedServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	conns := countConns(s)
	s.Start()
	defer s.Close()
	c := newClient(t, Options{IdleConnTimeout: 50 * time.Millisecond})
	get(t, c, s.URL)
	idle := func() int {
		c.mu.Lock()
		defer c.mu.Unlock()
		return len(c.idle[c.keyFor(s.URL)])
	}
	if idle() != 1 {
		t.Fatalf("%d idle connections after a request, want 1", idle())
	}
	for deadline := time.Now().Add(5 * time.Second); idle() != 0 && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}
	if n := idle(); n != 0 {
		t.Errorf("%d idle connections 5s after a 50ms idle timeout, want 0", n)
	}
	get(t, c, s.URL)
	if conns.Load() != 2 {
		t.Errorf("%d connections, want 2", conns.Load())
	}
}

func (c *Client) keyFor(url string) string {
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	return req.URL.Scheme + "://" + canonicalAddr(req.URL.Scheme, req.URL.Host)
}

// TestBytesAfterTheBodyAreNotTheNextResponse: an origin that sends more than its
// Content-Length on a kept-alive connection; the extra bytes must not become the
// answer to the next request.
func TestBytesAfterTheBodyAreNotTheNextResponse(t *testing.T) {
	url := rawOrigin(t, func(c net.Conn, br *bufio.Reader) {
		for {
			if _, err := http.ReadRequest(br); err != nil {
				return
			}
			io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokHTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nevil!")
		}
	})
	c := newClient(t, Options{})
	for i := range 2 {
		if _, body := get(t, c, url); body != "ok" {
			t.Fatalf("request %d: body %q, want ok", i, body)
		}
	}
}

// TestUnaskedBytesOnAnIdleConnection: an origin that sends a body with its answer to
// HEAD, a moment later; the stray bytes must not be read as the next response.
func TestUnaskedBytesOnAnIdleConnection(t *testing.T) {
	url := rawOrigin(t, func(c net.Conn, br *bufio.Reader) {
		for {
			r, err := http.ReadRequest(br)
			if err != nil {
				return
			}
			io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n")
			if r.Method == http.MethodHead {
				time.Sleep(20 * time.Millisecond)
			}
			io.WriteString(c, "hello")
		}
	})
	c := newClient(t, Options{})
	req, _ := http.NewRequest(http.MethodHead, url, nil)
	resp, err := c.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	time.Sleep(100 * time.Millisecond) // the stray body has arrived
	if _, body := get(t, c, url); body != "hello" {
		t.Errorf("GET after HEAD: %q, want hello", body)
	}
}

// TestBodyTimeout: the body timeout bounds each silence of the origin, not the body:
// pauses shorter than it pass, a longer one ends the body with ErrBodyTimeout.
func TestBodyTimeout(t *testing.T) {
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		pause, _ := time.ParseDuration(r.URL.Query().Get("pause"))
		for i := range 4 {
			fmt.Fprintf(w, "part%d ", i)
			w.(http.Flusher).Flush()
			time.Sleep(pause)
		}
	}))
	defer s.Close()
	c := newClient(t, Options{BodyTimeout: 300 * time.Millisecond})
	if _, body := get(t, c, s.URL+"?pause=100ms"); body != "part0 part1 part2 part3 " {
		t.Errorf("body with short pauses = %q, want all four parts", body)
	}
	req, _ := http.NewRequest(http.MethodGet, s.URL+"?pause=1s", nil)
	resp, err := c.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	got, err := io.ReadAll(resp.Body)
	if !errors.Is(err, ErrBodyTimeout) {
		t.Errorf("read after a long pause: %q, %v; want ErrBodyTimeout", got, err)
	}
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		t.Errorf("ErrBodyTimeout is not a net.Error timeout: %v", err)
	}
}

// TestIdleCheckPastTheHeaderDeadline: a small body is read with its header, so the
// header's deadline stays armed on the idle connection. Once it has passed, the idle
// check must still see that the origin closed the connection: a POST, which is never
// sent twice, then goes out on a new connection and succeeds.
func TestIdleCheckPastTheHeaderDeadline(t *testing.T) {
	var conns atomic.Int64
	url := rawOrigin(t, func(c net.Conn, br *bufio.Reader) {
		conns.Add(1)
		r, err := http.ReadRequest(br)
		if err != nil {
			return
		}
		_, _ = io.Copy(io.Discard, r.Body)
		io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok") // then closed, unannounced
	})
	c := newClient(t, Options{ResponseHeaderTimeout: 100 * time.Millisecond})
	get(t, c, url)
	time.Sleep(300 * time.Millisecond) // the header deadline has passed; the close has arrived
	req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader("x"))
	resp, err := c.RoundTrip(req)
	if err != nil {
		t.Fatalf("POST after the origin closed the idle connection: %v", err)
	}
	resp.Body.Close()
	if n := conns.Load(); n != 2 {
		t.Errorf("origin saw %d connections, want 2", n)
	}
}

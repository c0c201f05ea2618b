// Package origin is the client that talks to the origin: pooled keep-alive HTTP/1.1
// connections to http and https origins, the connect and response-header timeouts,
// bodies streamed both ways, and one retry of an idempotent request on a reused
// connection the origin had closed. It knows no caching rules.
//
// It is an http.RoundTripper, so httputil.ReverseProxy drives it. Unlike net/http's
// Transport it performs each exchange on the calling goroutine (write the request,
// read the response header, hand back a body that reads the connection), instead of
// handing requests and responses between a caller and a read and a write goroutine
// per connection: each of those hand-offs is a wake-up, and on a small VM they cost
// the proxy more than its own work (docs/performance.md). The wire format is net/http's
// own (http.Request.Write, http.ReadResponse), so header names, repeated fields,
// framing and the refusal of malformed responses are exactly what they were with the
// Transport. HTTP/2 to the origin is not spoken; protocol upgrades (WebSocket) go
// through a net/http Transport, which can hand the connection over.
package origin

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/textproto"
	"strings"
	"sync"
	"time"
)

// Options tune the client. Zero values are the defaults.
type Options struct {
	ConnectTimeout        time.Duration // dialing and the TLS handshake; 0 means 5s
	ResponseHeaderTimeout time.Duration // from sending the request to the end of the response header; 0 means 30s
	BodyTimeout           time.Duration // longest silence while a response body is read (ErrBodyTimeout); 0 means none
	MaxIdleConnsPerHost   int           // kept-alive idle connections per origin; 0 means 256
	IdleConnTimeout       time.Duration // an idle connection is closed after this; 0 means 90s
	DisableKeepAlives     bool          // one exchange per connection, with Connection: close
	TLSConfig             *tls.Config   // nil means TLS 1.2 or later with the system roots
	// Dial makes connections; nil means a net.Dialer with ConnectTimeout and TCP keep-alive.
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)
}

// Client is a pool of HTTP/1.1 connections to origins. Safe for concurrent use.
type Client struct {
	opt     Options
	mu      sync.Mutex
	idle    map[string][]*conn // by scheme and host:port, most recently used last
	upgrade *http.Transport    // for requests that ask to switch protocols
}

// New returns a client.
func New(o Options) *Client {
	if o.ConnectTimeout <= 0 {
		o.ConnectTimeout = 5 * time.Second
	}
	if o.ResponseHeaderTimeout <= 0 {
		o.ResponseHeaderTimeout = 30 * time.Second
	}
	if o.MaxIdleConnsPerHost <= 0 {
		o.MaxIdleConnsPerHost = 256
	}
	if o.IdleConnTimeout <= 0 {
		o.IdleConnTimeout = 90 * time.Second
	}
	if o.TLSConfig == nil {
		o.TLSConfig = &tls.Config{MinVersion: tls.VersionTLS12}
	}
	if o.Dial == nil {
		o.Dial = (&net.Dialer{Timeout: o.ConnectTimeout, KeepAlive: 30 * time.Second}).DialContext
	}
	c := &Client{opt: o, idle: map[string][]*conn{}}
	c.upgrade = &http.Transport{
		Proxy:                 nil, // the origin is reached directly, whatever HTTP_PROXY says
		DialContext:           o.Dial,
		TLSClientConfig:       o.TLSConfig,
		TLSHandshakeTimeout:   o.ConnectTimeout,
		ResponseHeaderTimeout: o.ResponseHeaderTimeout,
		DisableKeepAlives:     true, // an upgraded connection is never pooled anyway
		DisableCompression:    true,
	}
	return c
}

// CloseIdleConnections closes every idle connection.
func (c *Client) CloseIdleConnections() {
	c.mu.Lock()
	idle := c.idle
	c.idle = map[string][]*conn{}
	c.mu.Unlock()
	for _, cs := range idle {
		for _, pc := range cs {
			pc.close()
		}
	}
	c.upgrade.CloseIdleConnections()
}

// RoundTrip performs one exchange. The response body streams from the connection; the
// connection returns to the pool when the body has been read to its end.
func (c *Client) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL == nil || req.URL.Host == "" {
		closeBody(req)
		return nil, errors.New("origin: request has no host")
	}
	if req.URL.Scheme != "http" && req.URL.Scheme != "https" {
		closeBody(req)
		return nil, fmt.Errorf("origin: unsupported scheme %q", req.URL.Scheme)
	}
	if IsUpgrade(req.Header) {
		return c.upgrade.RoundTrip(req)
	}
	if err := validHeader(req.Header); err != nil {
		closeBody(req)
		return nil, err
	}
	key := req.URL.Scheme + "://" + canonicalAddr(req.URL.Scheme, req.URL.Host)
	for attempt := 0; ; attempt++ {
		pc, err := c.get(req.Context(), req, key, attempt > 0) // a retry never takes another kept connection
		if err != nil {
			closeBody(req)
			return nil, err
		}
		resp, err := c.exchange(pc, req)
		if err == nil {
			return resp, nil
		}
		switch {
		case attempt == 0 && pc.reused && isClosedIdle(err) && replayable(req):
			continue // the origin closed a kept-alive connection as we sent: ask once more on a new one
		case needsUntilClose(err) && req.Context().Err() == nil:
			return c.fetchUntilClose(req)
		}
		return nil, err
	}
}

// replayable reports whether a request may be sent again: an idempotent method
// (RFC 9110 §9.2.2) and no body to send twice.
func replayable(req *http.Request) bool {
	if req.Body != nil && req.Body != http.NoBody {
		return false
	}
	switch req.Method {
	case "", http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace, http.MethodPut, http.MethodDelete:
		return true
	}
	return false
}

// exchange writes req on pc and reads the response header.
func (c *Client) exchange(pc *conn, req *http.Request) (*http.Response, error) {
	ctx := req.Context()
	var stop func() bool
	if ctx.Done() != nil {
		stop = context.AfterFunc(ctx, pc.abort)
	}
	fail := func(err error) (*http.Response, error) {
		if stop != nil {
			stop()
		}
		pc.close()
		if ctx.Err() != nil {
			return nil, fmt.Errorf("origin: %w", ctx.Err())
		}
		return nil, err
	}
	out := req
	if c.opt.DisableKeepAlives && !req.Close {
		r := *req
		r.Close = true
		out = &r
	}
	pc.headerStarts(c.opt.ResponseHeaderTimeout)
	var wrote chan error
	if req.Body == nil || req.Body == http.NoBody {
		if err := out.Write(pc.bw); err != nil {
			return fail(writeError{err})
		}
		if err := pc.bw.Flush(); err != nil {
			return fail(writeError{err})
		}
	} else {
		// A body is written while the response is awaited: an origin may answer (413,
		// a redirect) before it has read all of it.
		wrote = make(chan error, 1)
		go func() {
			err := out.Write(pc.bw)
			if err == nil {
				err = pc.bw.Flush()
			}
			wrote <- err
		}()
	}
	resp, err := c.readResponse(ctx, pc, req)
	if err != nil {
		if wrote != nil {
			pc.abort()
			if werr := <-wrote; werr != nil && isClosedIdle(err) {
				err = werr
			}
		}
		return fail(err)
	}
	pc.bodyStarted(c.opt.BodyTimeout)
	b := &body{c: c, pc: pc, rc: resp.Body, stop: stop, wrote: wrote,
		reuse: !resp.Close && !out.Close && !c.opt.DisableKeepAlives}
	if resp.Body == http.NoBody {
		b.finish(true)
		return resp, nil
	}
	resp.Body = b
	return resp, nil
}

// readResponse reads the final response header, passing interim (1xx) responses to the
// request's httptrace.ClientTrace, as net/http's Transport does (ReverseProxy relays them).
func (c *Client) readResponse(ctx context.Context, pc *conn, req *http.Request) (*http.Response, error) {
	for n := 0; ; n++ {
		if _, err := pc.br.Peek(1); err != nil {
			if isTimeout(err) {
				return nil, errHeaderTimeout
			}
			return nil, closedError{err}
		}
		resp, err := http.ReadResponse(pc.br, req)
		if err != nil {
			if isTimeout(err) {
				return nil, errHeaderTimeout
			}
			return nil, err
		}
		if resp.StatusCode < 100 || resp.StatusCode > 199 || resp.StatusCode == http.StatusSwitchingProtocols {
			resp.TLS = pc.tls
			return resp, nil
		}
		if n >= 5 {
			return nil, errors.New("origin: too many 1xx informational responses")
		}
		if trace := httptrace.ContextClientTrace(ctx); trace != nil && trace.Got1xxResponse != nil {
			if err := trace.Got1xxResponse(resp.StatusCode, textproto.MIMEHeader(resp.Header)); err != nil {
				return nil, err
			}
		}
	}
}

// IsUpgrade reports whether a request asks to switch protocols (RFC 9110 §7.8).
func IsUpgrade(h http.Header) bool {
	if len(h["Upgrade"]) == 0 {
		return false
	}
	for _, v := range h["Connection"] {
		for t := range strings.SplitSeq(v, ",") {
			if strings.EqualFold(strings.TrimSpace(t), "upgrade") {
				return true
			}
		}
	}
	return false
}

// validHeader refuses fields that would not survive the wire, as the Transport does.
func validHeader(h http.Header) error {
	for k, vs := range h {
		if k == "" || containsAny(k, &notInName) {
			return fmt.Errorf("origin: invalid header field name %q", k)
		}
		for _, v := range vs {
			if containsAny(v, &notInValue) {
				return fmt.Errorf("origin: invalid header field value for %q", k)
			}
		}
	}
	return nil
}

// byteSet marks bytes; built once, where strings.ContainsAny builds its set per call.
type byteSet [256]bool

func newByteSet(chars string) (s byteSet) {
	for i := 0; i < len(chars); i++ {
		s[chars[i]] = true
	}
	return s
}

// The bytes validHeader refuses in a field name and in a value.
const (
	nameRefuses  = " \t\r\n:\x00\"(),/;<=>?@[\\]{}"
	valueRefuses = "\r\n\x00"
)

var (
	notInName  = newByteSet(nameRefuses)
	notInValue = newByteSet(valueRefuses)
)

func containsAny(s string, set *byteSet) bool {
	for i := 0; i < len(s); i++ {
		if set[s[i]] {
			return true
		}
	}
	return false
}

func closeBody(req *http.Request) {
	if req.Body != nil {
		req.Body.Close()
	}
}

// canonicalAddr is host:port, with the scheme's port when the URL has none.
func canonicalAddr(scheme, host string) string {
	if _, port, err := net.SplitHostPort(host); err == nil && port != "" {
		return host
	}
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	if scheme == "https" {
		return net.JoinHostPort(host, "443")
	}
	return net.JoinHostPort(host, "80")
}

// body is a response body on a pooled connection: at its end the connection goes back
// to the pool; closed before its end, the connection is closed (what is left of the
// body is not read just to keep it).
type body struct {
	c     *Client
	pc    *conn
	rc    io.ReadCloser
	stop  func() bool // unregisters the context's abort
	wrote chan error  // the request body writer's result, when there is one
	reuse bool
	mu    sync.Mutex
	done  bool
}

func (b *body) Read(p []byte) (int, error) {
	n, err := b.rc.Read(p)
	if err == io.EOF {
		b.finish(true)
	} else if err != nil && isTimeout(err) && b.pc.aborted() {
		err = context.Canceled
	}
	return n, err
}

// Close ends the body. A Read blocked on the connection (a stalled origin) returns at
// once: the connection is closed before net/http's body reader is.
func (b *body) Close() error {
	b.finish(false)
	return b.rc.Close()
}

// finish releases the connection once: to the pool when the body was read to its end
// and the connection may carry another exchange, else closed.
func (b *body) finish(complete bool) {
	b.mu.Lock()
	if b.done {
		b.mu.Unlock()
		return
	}
	b.done = true
	b.mu.Unlock()
	// Bytes past the end of the response are not ours to read as the next one.
	reuse := complete && b.reuse && b.pc.br.Buffered() == 0
	if b.stop != nil && !b.stop() {
		reuse = false // the context ended: its abort has run or is running on the connection
	}
	if b.wrote != nil {
		select {
		case err := <-b.wrote:
			reuse = reuse && err == nil
		default: // the origin answered before reading all of the request body
			reuse = false
			b.pc.abort()
			<-b.wrote
		}
	}
	if reuse {
		b.c.put(b.pc)
		return
	}
	b.pc.close()
}

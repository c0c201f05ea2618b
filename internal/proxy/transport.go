package proxy

import (
	"context"
	"net/http"
	"time"

	originclient "github.com/caching-proxy/caching-proxy/internal/origin" // proxy_test.go has a type origin
)

// TransportOptions tune the connection pool to the origin. Zero values are the defaults.
type TransportOptions struct {
	ConnectTimeout        time.Duration // dialing; 0 means 5s
	ResponseHeaderTimeout time.Duration // waiting for status and headers; 0 means 30s
	BodyTimeout           time.Duration // longest silence while reading an origin body; 0 means none
	MaxIdleConnsPerHost   int           // kept-alive connections to the origin; 0 means 256
	DisableKeepAlives     bool          // one exchange per connection (tests that count origin connections)
}

// NewTransport returns the origin client: pooled keep-alive HTTP/1.1 connections sized
// for a proxy's concurrency, system roots, and bodies relayed exactly as the origin sent
// them (no transparent decompression). See internal/origin for why it is not net/http's
// Transport, and docs/performance.md for what that saves.
func NewTransport(o TransportOptions) *originclient.Client {
	return originclient.New(originclient.Options{
		ConnectTimeout:        o.ConnectTimeout,
		ResponseHeaderTimeout: o.ResponseHeaderTimeout,
		BodyTimeout:           o.BodyTimeout,
		MaxIdleConnsPerHost:   o.MaxIdleConnsPerHost,
		DisableKeepAlives:     o.DisableKeepAlives,
	})
}

// send performs one origin exchange and records its status and timing.
func (h *Handler) send(req *http.Request) (*http.Response, error) {
	start, call := time.Now(), h.startOrigin(req)
	resp, err := h.origin.RoundTrip(req)
	if err != nil {
		h.m.Origin(0, time.Since(start))
		call.end(0, time.Since(start), err)
		return nil, err
	}
	h.m.Origin(resp.StatusCode, time.Since(start))
	call.end(resp.StatusCode, time.Since(start), nil)
	return resp, nil
}

// detach gives a fill a context the client's going away does not end: a fetch that
// other requests wait for, or that will fill the cache, goes on. Nothing else ends
// it either: the origin client's timeouts bound the exchange, and closing the body
// releases the connection. A context that cannot end also costs the origin client no
// watch on it (context.AfterFunc) per exchange.
//
// The exchange is put above the detached context again: WithoutCancel's context boxes
// itself on every Value lookup that passes through it, an allocation per lookup, and
// the exchange is what is looked up, in roundTrip and in count.
func detach(req *http.Request, x *exchange) *http.Request {
	return req.WithContext(context.WithValue(context.WithoutCancel(req.Context()), exchangeKey{}, x))
}

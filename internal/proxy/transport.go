package proxy

import (
	"context"
	"crypto/tls"
	"net"
	"net/http"
	"time"
)

// TransportOptions tune the connection pool to the origin. Zero values are the defaults.
type TransportOptions struct {
	ConnectTimeout        time.Duration // dialing; 0 means 5s
	ResponseHeaderTimeout time.Duration // waiting for status and headers; 0 means 30s
	MaxIdleConnsPerHost   int           // kept-alive connections to the origin; 0 means 256
}

// NewTransport returns the origin transport: pooled keep-alive connections sized for a
// proxy's concurrency, HTTP/2 to https origins that offer it, system roots, and no
// transparent decompression (we relay and store bodies exactly as the origin sent them).
func NewTransport(o TransportOptions) *http.Transport {
	if o.ConnectTimeout <= 0 {
		o.ConnectTimeout = 5 * time.Second
	}
	if o.ResponseHeaderTimeout <= 0 {
		o.ResponseHeaderTimeout = 30 * time.Second
	}
	if o.MaxIdleConnsPerHost <= 0 {
		o.MaxIdleConnsPerHost = 256
	}
	d := &net.Dialer{Timeout: o.ConnectTimeout, KeepAlive: 30 * time.Second}
	return &http.Transport{
		Proxy:                 nil, // the origin is reached directly, whatever HTTP_PROXY says
		DialContext:           d.DialContext,
		ForceAttemptHTTP2:     true,
		TLSClientConfig:       &tls.Config{MinVersion: tls.VersionTLS12},
		TLSHandshakeTimeout:   o.ConnectTimeout,
		ResponseHeaderTimeout: o.ResponseHeaderTimeout,
		ExpectContinueTimeout: time.Second,
		MaxIdleConns:          o.MaxIdleConnsPerHost * 2,
		MaxIdleConnsPerHost:   o.MaxIdleConnsPerHost,
		IdleConnTimeout:       90 * time.Second,
		DisableCompression:    true,
	}
}

// send performs one origin exchange and records its status and timing.
func (h *Handler) send(req *http.Request) (*http.Response, error) {
	start := time.Now()
	resp, err := h.origin.RoundTrip(req)
	if t, ok := h.origin.(*http.Transport); ok && needsUntilClose(err) {
		resp, err = fetchUntilClose(req.Context(), t.DialContext, t.TLSClientConfig, req)
	}
	if err != nil {
		h.m.Origin(0, time.Since(start))
		return nil, err
	}
	h.m.Origin(resp.StatusCode, time.Since(start))
	if h.opt.BodyTimeout > 0 && resp.Body != nil && resp.Body != http.NoBody {
		resp.Body = newIdleTimeoutBody(resp.Body, h.opt.BodyTimeout)
	}
	return resp, nil
}

// detach gives a fill its own context: a client that goes away must not abort a
// fetch that other requests wait for or that will fill the cache.
func detach(req *http.Request) (*http.Request, context.CancelFunc) {
	ctx, cancel := context.WithCancel(context.WithoutCancel(req.Context()))
	return req.WithContext(ctx), cancel
}

package proxy

import (
	"bytes"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/caching-proxy/caching-proxy/internal/metrics"
	"github.com/caching-proxy/caching-proxy/internal/policy"
)

// roundTrip is the ReverseProxy's Transport: req is the outbound request, already
// rewritten for the origin; the exchange in its context says why it goes there.
func (h *Handler) roundTrip(req *http.Request) (*http.Response, error) {
	x, _ := req.Context().Value(exchangeKey{}).(*exchange)
	req, sp := h.revalidateSpan(req, x)
	defer endPassSpan(sp, x)
	switch {
	case x == nil || x.kind == passBypass:
		return h.pass(req, x)
	case x.kind == passUnsafe:
		return h.unsafe(req, x)
	case x.kind == passRevalidate:
		return h.revalidate(req, x)
	}
	return h.fetch(req, x)
}

// pass forwards a request the cache has nothing to do with.
func (h *Handler) pass(req *http.Request, x *exchange) (*http.Response, error) {
	resp, err := h.send(req)
	if err != nil {
		return nil, err
	}
	detail := "fwd=bypass"
	if x != nil && x.kind == passBypass && x.in.Method == http.MethodHead {
		detail = "fwd=miss"
		h.headLikeGet(x, resp)
	}
	markForwarded(resp, detail)
	return resp, nil
}

// unsafe forwards a POST, PUT, DELETE, ... and invalidates what a success changed (RFC 9111 §4.4).
func (h *Handler) unsafe(req *http.Request, x *exchange) (*http.Response, error) {
	resp, err := h.send(req)
	if err != nil {
		return nil, err
	}
	if policy.Invalidates(req.Method, resp.StatusCode) {
		h.invalidate(x, req, resp.Header)
		h.invalidateGroups(req.Method, resp)
	}
	markForwarded(resp, "fwd=method")
	if h.postReusable(req, x, resp) {
		h.keepForGet(x, resp)
	}
	return resp, nil
}

// postReusable reports whether a POST response may answer later GETs of its target:
// a 200 whose Content-Location is the request's own URI, with explicit freshness and
// nothing forbidding a shared cache to store it (RFC 9110 §9.3.3, RFC 9111 §4.3.5 note).
func (h *Handler) postReusable(req *http.Request, x *exchange, resp *http.Response) bool {
	if req.Method != http.MethodPost || resp.StatusCode != http.StatusOK {
		return false
	}
	cl := resp.Header.Get("Content-Location")
	if cl == "" {
		return false // "" would resolve to the request's own URI
	}
	k, ok := h.sameOriginKey(req.URL, x.in, cl)
	if !ok || k != x.key {
		return false
	}
	d, _ := policy.ParseResponse(resp.Header)
	if d.SMaxAge < 0 && d.MaxAge < 0 && len(resp.Header["Expires"]) == 0 {
		return false
	}
	ok, _ = policy.Storable(policy.Exchange{
		Method: http.MethodGet, RequestHeader: x.in.Header, Request: policy.ParseRequest(x.in.Header),
		Status: resp.StatusCode, Header: resp.Header, Directives: d,
	})
	return ok
}

// keepForGet stores a reusable POST response, as a GET response to its URI, while it streams.
func (h *Handler) keepForGet(x *exchange, resp *http.Response) {
	d, _ := policy.ParseResponse(resp.Header)
	now := time.Now()
	fresh := policy.Assess(resp.StatusCode, resp.Header, d, x.now, now)
	header := policy.StoredHeader(resp.Header, d)
	reqHeader := x.in.Header.Clone()
	resp.Body = newFillBody(resp.Body, resp.ContentLength, h.opt.MaxObjectSize, func(body []byte) {
		if body != nil {
			h.fill(x, newEntry(x.key, resp.StatusCode, header, body, fresh, reqHeader))
		}
	})
}

// fetch handles a miss: the response streams to the client and, if storable, into the store.
func (h *Handler) fetch(req *http.Request, x *exchange) (*http.Response, error) {
	// Ask for the whole response, so it can be stored; a Range goes along, and a 206
	// that comes back is stored as a partial entry.
	req.Header.Del("If-None-Match")
	req.Header.Del("If-Modified-Since")
	req = detach(req, x)
	requested := time.Now()
	resp, err := h.send(req)
	if err != nil {
		return nil, err
	}
	return h.admit(req, x, resp, requested, "fwd=miss")
}

// admit decides whether a full origin response gets stored, and returns what the
// client receives: the response itself, streaming, with a copy going to the store.
func (h *Handler) admit(req *http.Request, x *exchange, resp *http.Response, requested time.Time, fwd string) (*http.Response, error) {
	received := time.Now()
	d, _ := policy.ParseResponse(resp.Header)
	ok, why := policy.Storable(policy.Exchange{
		Method: x.in.Method, RequestHeader: x.in.Header, Request: x.req,
		Status: resp.StatusCode, Header: resp.Header, Directives: d,
	})
	if ok && resp.ContentLength > h.opt.MaxObjectSize {
		ok, why = false, "too-large"
	}
	var fresh policy.Freshness
	var header http.Header
	if ok { // a pass-through (no-store, private, ...) computes neither
		fresh = policy.Assess(resp.StatusCode, resp.Header, d, requested, received)
		header = policy.StoredHeader(resp.Header, d)
		if retention(fresh, policy.HasValidators(header), received, h.opt.StaleIfError) <= 0 {
			ok, why = false, "stale" // already past every window in which it could be used
		}
	}
	x.result = metrics.Miss
	h.decided(x, resp.StatusCode, ok, why)
	if !ok {
		h.endFlight(x, nil, true)
		markForwarded(resp, fwd+"; detail="+why)
		h.decodeForClient(x.in, resp, false)
		return resp, nil
	}
	status := resp.StatusCode
	reqHeader := x.in.Header.Clone()
	// The fill may outlive the client's reading (its context is detached): the origin
	// body is closed by the relay or by the fill's background drain.
	resp.Body = newFillBody(resp.Body, resp.ContentLength, h.opt.MaxObjectSize, func(body []byte) {
		if body == nil {
			h.fillFailed(x, status)
			h.endFlight(x, nil, false)
			return
		}
		e := newEntry(x.key, status, header, body, fresh, reqHeader)
		if status == http.StatusPartialContent && !rangeLengthOK(header, len(body)) {
			h.endFlight(x, nil, false)
			return
		}
		x.filled = e       // this client asked before any purge that drops it
		if !h.fill(x, e) { // purged while it was on its way: waiters fetch again
			h.endFlight(x, nil, false)
			return
		}
		h.endFlight(x, e, false)
	})
	markForwarded(resp, fwd+"; stored")
	if status == http.StatusOK && (hasConditional(x.in.Header) || x.in.Header.Get("Range") != "" || h.answerFromCopy(x.in, resp)) {
		// The client wants part of the response, or only to know it has it: read it
		// whole into the store, then answer from the entry.
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if e := x.filled; e != nil {
			return h.fromEntry(req, x, e, "MISS", fwd+"; stored"), nil
		}
		return nil, errIncompleteBody
	}
	h.decodeForClient(x.in, resp, true)
	return resp, nil
}

// revalidate asks the origin whether a stored response is still good (RFC 9111 §4.3):
// 304 refreshes and serves it; a full response replaces it; a failure may serve it
// stale within a stale-if-error window.
func (h *Handler) revalidate(req *http.Request, x *exchange) (*http.Response, error) {
	stored := x.stored
	stripConditionals(req.Header)
	conditional := policy.Conditional(req.Header, stored.subset("Etag", "Last-Modified"))
	req.Header.Del("Range")
	req = detach(req, x)
	requested := time.Now()
	resp, err := h.send(req)
	fwd := "fwd=stale"
	if x.req.NoCache || x.req.MaxAge >= 0 || x.req.MinFresh >= 0 {
		fwd = "fwd=request"
	}
	if err != nil || resp.StatusCode >= 500 {
		if r, ok := h.staleOnError(x, resp, err); ok {
			return r, nil
		}
		if err != nil {
			return nil, err
		}
	}
	if e := h.headUpdate(x, resp, requested); e != nil {
		resp.Body.Close()
		x.result = metrics.Revalidated
		return h.fromEntry(req, x, e, "HIT", fwd+"; fwd-status=200; detail=head-update"), nil
	}
	// A 304 to our own conditional request refreshes the one response we hold; fields
	// that describe its body, the ETag among them, are kept (RFC 9111 §3.2, §4.3.4).
	if resp.StatusCode == http.StatusNotModified && conditional {
		resp.Body.Close()
		e := h.refresh(x, stored, resp.Header, requested, time.Now())
		x.result = metrics.Revalidated
		return h.fromEntry(req, x, e, "HIT", fwd+"; fwd-status=304"), nil
	}
	return h.admit(req, x, resp, requested, fwd+"; fwd-status="+strconv.Itoa(resp.StatusCode))
}

// refresh stores a new entry: the stored body with its header updated from a 304 (RFC 9111 §3.2).
func (h *Handler) refresh(x *exchange, stored *entry, fresh http.Header, requested, received time.Time) *entry {
	header := policy.Refresh(stored.header(), fresh)
	d, _ := policy.ParseResponse(header)
	e := newEntry(x.key, int(stored.status), header, stored.body, policy.Assess(int(stored.status), header, d, requested, received), x.in.Header)
	h.addCodings(e, stored)
	ok, why := policy.Storable(policy.Exchange{
		Method: http.MethodGet, RequestHeader: x.in.Header, Request: x.req,
		Status: int(stored.status), Header: header, Directives: d,
	})
	h.decided(x, x.originStatus, ok, why) // a 304, or a 200 to a HEAD (head.go)
	if ok {
		h.fill(x, e)
	} else {
		h.drop(x.key)
	}
	return e
}

// staleOnError serves the stored response when the origin failed and a stale-if-error
// window (the response's, the request's or the operator's) allows it (RFC 5861 §4).
func (h *Handler) staleOnError(x *exchange, resp *http.Response, err error) (*http.Response, bool) {
	window := max(x.stored.fresh.StaleIfError, h.opt.StaleIfError)
	if x.req.StaleIfError >= 0 {
		window = max(window, time.Duration(x.req.StaleIfError)*time.Second)
	}
	if !x.stored.fresh.StaleWithin(window, time.Now()) {
		return nil, false
	}
	status := "fwd=stale; detail=stale-if-error"
	if err == nil {
		status = "fwd=stale; fwd-status=" + strconv.Itoa(resp.StatusCode) + "; detail=stale-if-error"
		resp.Body.Close()
	} else {
		h.log.Warn("origin failed; serving stale", "key", x.key, "err", err)
	}
	x.result = metrics.Stale
	return h.fromEntry(x.in, x, x.stored, "HIT", status), true
}

// fromEntry builds the response the ReverseProxy relays when the answer comes from a stored entry.
func (h *Handler) fromEntry(req *http.Request, x *exchange, e *entry, xcache, status string) *http.Response {
	e = h.representation(x.in, e)
	hdr := make(http.Header, e.lines+3)
	for k, v := range e.all() {
		if !h.hides(e, k) {
			hdr[k] = v
		}
	}
	setCacheHeaders(hdr, e, time.Now(), xcache, status)
	code, body := respond(hdr, x.in, e)
	if x.in.Method != http.MethodHead {
		h.countServed(hdr["Content-Encoding"], len(body))
	}
	return &http.Response{
		StatusCode: code, Status: strconv.Itoa(code) + " " + http.StatusText(code),
		Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: hdr, Body: io.NopCloser(bytes.NewReader(body)), ContentLength: int64(len(body)),
		Request: req,
	}
}

// notModified turns a full response into the 304 a conditional client asked for.
func notModified(req *http.Request, resp *http.Response) *http.Response {
	hdr := resp.Header.Clone()
	for _, f := range []string{"Content-Length", "Content-Type", "Content-Encoding", "Content-Range"} {
		hdr.Del(f)
	}
	return &http.Response{
		StatusCode: http.StatusNotModified, Status: "304 Not Modified",
		Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: hdr, Body: http.NoBody, Request: req,
	}
}

// markForwarded labels a response that came from the origin.
func markForwarded(resp *http.Response, status string) {
	resp.Header["X-Cache"] = xCacheMiss
	resp.Header["Cache-Status"] = append([]string{Name + "; " + status}, resp.Header["Cache-Status"]...)
}

// stripConditionals removes the client's validators from a request the cache sends for
// itself: it wants a full response to store, or its own validators to be the ones asked.
func stripConditionals(h http.Header) {
	for _, f := range []string{"If-None-Match", "If-Modified-Since", "If-Range", "Range"} {
		h.Del(f)
	}
}

// rangeLengthOK reports whether a 206 body is exactly as long as its Content-Range says.
func rangeLengthOK(h http.Header, n int) bool {
	first, last, _, ok := policy.ContentRange(h)
	return ok && last-first+1 == int64(n)
}

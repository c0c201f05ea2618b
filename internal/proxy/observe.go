package proxy

import (
	"bufio"
	"context"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/caching-proxy/caching-proxy/internal/accesslog"
	"github.com/caching-proxy/caching-proxy/internal/metrics"
	"go.opentelemetry.io/otel/trace"
)

// ServeHTTP answers one client request. With an access log or tracing on, it wraps
// the client's writer in an observer that sees what the request path decided; with
// both off, the request path runs on the client's writer as it is, costing nothing.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if h.opt.AccessLog == nil && h.tracer == nil {
		h.serveHTTP(w, r)
		return
	}
	ob, _ := h.obsPool.Get().(*observer)
	if ob == nil {
		ob = new(observer)
	}
	*ob = observer{ResponseWriter: w, start: time.Now()}
	if h.tracer != nil {
		r = h.startRequestSpan(ob, r)
	}
	h.serveHTTP(ob, r)
	ob.finish(h, r)
	// Nothing holds the observer now: the request path reaches it only through this
	// request's writer and exchange, and neither outlives ServeHTTP's work with it.
	*ob = observer{}
	h.obsPool.Put(ob)
}

// observer is the client's ResponseWriter for one request, noting what the request
// path did: the outcome, where the answer came from, what the origin said.
type observer struct {
	http.ResponseWriter
	start        time.Time
	status       int
	bytes        int64
	outcome      metrics.Outcome // set for answers that never reach the ReverseProxy
	x            *exchange       // set when the request was forwarded
	shared       bool            // the stored response came from the shared tier
	originStatus int
	originTime   time.Duration
	cacheStatus  string     // our Cache-Status member, as sent
	span         trace.Span // nil when tracing is off
	rec          accesslog.Record
	lookupCtx    context.Context // the lookup span's, while a traced lookup runs
}

func (o *observer) WriteHeader(code int) {
	if o.status == 0 && (code >= 200 || code == http.StatusSwitchingProtocols) {
		o.status = code
		if cs := o.Header()["Cache-Status"]; len(cs) > 0 {
			o.cacheStatus = cs[0]
		}
	}
	o.ResponseWriter.WriteHeader(code)
}

func (o *observer) Write(p []byte) (int, error) {
	if o.status == 0 {
		o.WriteHeader(http.StatusOK)
	}
	n, err := o.ResponseWriter.Write(p)
	o.bytes += int64(n)
	return n, err
}

// Flush and Unwrap keep streaming and protocol upgrades working through the observer.
func (o *observer) Flush() {
	if o.status == 0 {
		o.WriteHeader(http.StatusOK)
	}
	if f, ok := o.ResponseWriter.(http.Flusher); ok {
		f.Flush()
		return
	}
	_ = http.NewResponseController(o.ResponseWriter).Flush()
}

func (o *observer) Unwrap() http.ResponseWriter { return o.ResponseWriter }

// Hijack is for ReverseProxy's protocol upgrades, which look for it on the writer.
func (o *observer) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	return http.NewResponseController(o.ResponseWriter).Hijack()
}

// noteOutcome tells the observer, if there is one, how a request answered without
// the ReverseProxy was counted.
func noteOutcome(w http.ResponseWriter, o metrics.Outcome) {
	if ob, ok := w.(*observer); ok {
		ob.outcome = o
	}
}

// observeExchange links a forwarded request's exchange and its observer.
func observeExchange(w http.ResponseWriter, x *exchange) {
	if ob, ok := w.(*observer); ok {
		ob.x, x.obs = x, ob
	}
}

// noteOrigin records the origin's answer on the exchange and its observer, if any.
func (x *exchange) noteOrigin(status int, took time.Duration) {
	if x == nil {
		return
	}
	x.originStatus = status
	if x.obs != nil {
		x.obs.originStatus, x.obs.originTime = status, took
	}
}

// finish ends the request span and writes the access log line.
func (o *observer) finish(h *Handler, r *http.Request) {
	if o.status == 0 {
		o.status = http.StatusOK // net/http sends 200 for a handler that wrote nothing
	}
	out := o.outcome
	if out == "" && o.x != nil {
		out = o.x.outcome()
	}
	tier := "local"
	switch {
	case out == "": // refused before the cache was asked (a bad target, CONNECT)
		out, tier = metrics.Bypass, ""
	case out == metrics.Miss || out == metrics.Bypass || (out == metrics.Revalidated && o.originStatus != 0):
		tier = "origin"
	case o.shared:
		tier = "shared"
	}
	detail, stored := statusDetail(o.cacheStatus)
	if o.span != nil {
		endRequestSpan(o, out, detail, tier, stored)
	}
	if h.opt.AccessLog == nil {
		return
	}
	o.rec = accesslog.Record{
		Time: o.start, Client: clientIP(r), Method: r.Method, Target: r.RequestURI, Proto: r.Proto,
		Status: o.status, Bytes: o.bytes, Duration: time.Since(o.start),
		Cache: string(out), Detail: detail, Stored: stored, Tier: tier,
		OriginStatus: o.originStatus, OriginTime: o.originTime,
		UserAgent: firstValue(r.Header["User-Agent"]), Referer: firstValue(r.Header["Referer"]),
	}
	if o.span != nil {
		if sc := o.span.SpanContext(); sc.IsSampled() {
			o.rec.TraceID = sc.TraceID().String()
		}
	}
	h.opt.AccessLog.Log(&o.rec)
}

// statusDetail reads the detail parameter of our Cache-Status member, the policy's
// words for why a response was not stored or not reused, and whether it was stored.
func statusDetail(cs string) (detail string, stored bool) {
	for p := range strings.SplitSeq(cs, ";") {
		p = strings.TrimSpace(p)
		switch {
		case p == "stored":
			stored = true
		case strings.HasPrefix(p, "detail="):
			detail = strings.Trim(p[len("detail="):], `"`)
		}
	}
	return detail, stored
}

// AccessLog is where the proxy writes one line per request (accesslog.Logger).
type AccessLog interface {
	Log(*accesslog.Record)
}

// firstValue is a field's first value; net/http keys the map canonically already.
func firstValue(v []string) string {
	if len(v) == 0 {
		return ""
	}
	return v[0]
}

package proxy

import (
	"net/http"
	"strconv"
	"time"

	"github.com/caching-proxy/caching-proxy/internal/metrics"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	semconv "go.opentelemetry.io/otel/semconv/v1.40.0"
	"go.opentelemetry.io/otel/trace"
)

// Tracing (OpenTelemetry, on when Options.Tracing is set). Each request is a server
// span continuing the client's W3C traceparent; under it are the store lookup (with
// the shared-tier call under that), the origin exchange (a client span whose context
// goes to the origin in traceparent), a revalidation, and a coalesced wait. HTTP
// attributes follow the semantic conventions; the cache's own are caching_proxy.*.

// Attributes of the cache's own.
const (
	attrOutcome = attribute.Key("caching_proxy.cache.outcome") // hit, miss, stale, revalidated, bypass
	attrDetail  = attribute.Key("caching_proxy.cache.detail")  // the Cache-Status detail
	attrTier    = attribute.Key("caching_proxy.cache.tier")    // local, shared, origin
	attrStored  = attribute.Key("caching_proxy.cache.stored")
	attrFound   = attribute.Key("caching_proxy.cache.found")  // a lookup found a usable entry
	attrResult  = attribute.Key("caching_proxy.cache.result") // what a revalidation or wait came to
)

var traceContext = propagation.TraceContext{}

// startRequestSpan starts the server span of r, continuing the client's trace, and
// returns r with the span in its context, so every span below and the origin
// request belong to it.
func (h *Handler) startRequestSpan(ob *observer, r *http.Request) *http.Request {
	ctx := traceContext.Extract(r.Context(), propagation.HeaderCarrier(r.Header))
	attrs := []attribute.KeyValue{
		semconv.HTTPRequestMethodKey.String(r.Method),
		semconv.URLPath(r.URL.Path),
		semconv.URLScheme(scheme(r)),
		semconv.ServerAddress(r.Host),
		semconv.ClientAddress(clientIP(r)),
		semconv.NetworkProtocolVersion(strconv.Itoa(r.ProtoMajor) + "." + strconv.Itoa(r.ProtoMinor)),
	}
	if r.URL.RawQuery != "" {
		attrs = append(attrs, semconv.URLQuery(r.URL.RawQuery))
	}
	if ua := r.Header.Get("User-Agent"); ua != "" {
		attrs = append(attrs, semconv.UserAgentOriginal(ua))
	}
	ctx, ob.span = h.tracer.Start(ctx, r.Method, trace.WithSpanKind(trace.SpanKindServer), trace.WithAttributes(attrs...))
	return r.WithContext(ctx)
}

func scheme(r *http.Request) string {
	if r.TLS != nil {
		return "https"
	}
	return "http"
}

func endRequestSpan(ob *observer, out metrics.Outcome, detail, tier string, stored bool) {
	sp := ob.span
	sp.SetAttributes(
		semconv.HTTPResponseStatusCode(ob.status),
		semconv.HTTPResponseBodySize(int(ob.bytes)),
		attrOutcome.String(string(out)), attrTier.String(tier), attrStored.Bool(stored),
	)
	if detail != "" {
		sp.SetAttributes(attrDetail.String(detail))
	}
	if ob.status >= 500 {
		sp.SetStatus(codes.Error, http.StatusText(ob.status))
		sp.SetAttributes(semconv.ErrorTypeKey.String(strconv.Itoa(ob.status)))
	}
	sp.End()
}

// lookupFor is lookup with a span, and the shared tier's answer noted, when the
// request is observed.
func (h *Handler) lookupFor(w http.ResponseWriter, r *http.Request, key string) *entry {
	ob, _ := w.(*observer)
	if ob == nil || ob.span == nil {
		return h.lookup(key, r.Header, ob)
	}
	ctx, sp := h.tracer.Start(r.Context(), "cache lookup")
	ob.lookupCtx = ctx
	e := h.lookup(key, r.Header, ob)
	ob.lookupCtx = nil
	sp.SetAttributes(attrFound.Bool(e != nil))
	sp.End()
	return e
}

// sharedGetFor is sharedGet with a span under the lookup's, noting a shared answer
// on the observer.
func (h *Handler) sharedGetFor(ob *observer, key string) (*entry, bool) {
	if ob == nil {
		return h.sharedGet(key)
	}
	var sp trace.Span
	if ob.lookupCtx != nil {
		_, sp = h.tracer.Start(ob.lookupCtx, "cache shared get",
			trace.WithSpanKind(trace.SpanKindClient), trace.WithAttributes(semconv.DBSystemNameRedis))
	}
	e, ok := h.sharedGet(key)
	if ok {
		ob.shared = true
	}
	if sp != nil {
		sp.SetAttributes(attrFound.Bool(ok))
		sp.End()
	}
	return e, ok
}

// originCall is one origin exchange being observed: its exchange and client span.
type originCall struct {
	x    *exchange
	span trace.Span
}

// startOrigin starts observing an origin exchange: a client span whose context the
// origin receives in traceparent, when tracing is on.
func (h *Handler) startOrigin(req *http.Request) originCall {
	c := originCall{}
	c.x, _ = req.Context().Value(exchangeKey{}).(*exchange)
	if h.tracer != nil {
		port := req.URL.Port()
		if port == "" {
			port = map[string]string{"https": "443"}[req.URL.Scheme]
			if port == "" {
				port = "80"
			}
		}
		p, _ := strconv.Atoi(port)
		var ctx = req.Context()
		ctx, c.span = h.tracer.Start(ctx, req.Method, trace.WithSpanKind(trace.SpanKindClient), trace.WithAttributes(
			semconv.HTTPRequestMethodKey.String(req.Method),
			semconv.URLFull(req.URL.String()),
			semconv.ServerAddress(req.URL.Hostname()),
			semconv.ServerPort(p),
		))
		traceContext.Inject(ctx, propagation.HeaderCarrier(req.Header))
	}
	return c
}

// end records the origin's status (0 for an error) and the time its header took.
func (c originCall) end(status int, took time.Duration, err error) {
	c.x.noteOrigin(status, took)
	if c.span == nil {
		return
	}
	if err != nil {
		c.span.RecordError(err)
		c.span.SetStatus(codes.Error, err.Error())
		c.span.SetAttributes(semconv.ErrorTypeKey.String("transport"))
	} else {
		c.span.SetAttributes(semconv.HTTPResponseStatusCode(status))
		if status >= 500 {
			c.span.SetStatus(codes.Error, http.StatusText(status))
			c.span.SetAttributes(semconv.ErrorTypeKey.String(strconv.Itoa(status)))
		}
	}
	c.span.End()
}

// revalidateSpan starts the span of a revalidation, for the origin exchange to sit
// under; nil when tracing is off or the request is not a revalidation.
func (h *Handler) revalidateSpan(req *http.Request, x *exchange) (*http.Request, trace.Span) {
	if h.tracer == nil || x == nil || x.kind != passRevalidate {
		return req, nil
	}
	ctx, sp := h.tracer.Start(req.Context(), "cache revalidate", trace.WithAttributes(attribute.Bool("caching_proxy.cache.background", x.background)))
	return req.WithContext(ctx), sp
}

// endPassSpan ends a revalidation span with what it came to.
func endPassSpan(sp trace.Span, x *exchange) {
	if sp == nil {
		return
	}
	sp.SetAttributes(attrResult.String(string(x.outcome())))
	sp.End()
}

// waitSpan starts the span of a coalesced wait; nil when the request is not traced.
func (h *Handler) waitSpan(w http.ResponseWriter, r *http.Request) trace.Span {
	ob, _ := w.(*observer)
	if ob == nil || ob.span == nil {
		return nil
	}
	_, sp := h.tracer.Start(r.Context(), "cache coalesced wait")
	return sp
}

// endWaitSpan ends a coalesced wait: "stored" (the leader stored a response),
// "not stored" or "client left".
func endWaitSpan(sp trace.Span, result string) {
	if sp == nil {
		return
	}
	sp.SetAttributes(attrResult.String(result))
	sp.End()
}

func waitResult(stored bool) string {
	if stored {
		return "stored"
	}
	return "not stored"
}

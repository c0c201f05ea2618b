// Package proxy is the request path: it answers fresh hits from the store, and hands
// everything else to an httputil.ReverseProxy whose Transport asks the policy, talks
// to the origin (conditionally when revalidating) and fills the store.
//
//	client -> Handler -> policy (key, reuse?) -> store (entry?) -> origin -> policy (storable?) -> store -> client
package proxy

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/textproto"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/caching-proxy/caching-proxy/internal/compress"
	"github.com/caching-proxy/caching-proxy/internal/metrics"
	originclient "github.com/caching-proxy/caching-proxy/internal/origin" // proxy_test.go has a type origin
	"github.com/caching-proxy/caching-proxy/internal/policy"
	"github.com/caching-proxy/caching-proxy/internal/store"
	"go.opentelemetry.io/otel/trace"
)

// Name is how the proxy names itself in Cache-Status and Via.
const Name = "caching-proxy"

// Options configure a Handler. Zero values are documented per field.
type Options struct {
	Origin         *url.URL             // required: where requests go
	Store          *store.Store[*entry] // required: see NewStore
	Metrics        *metrics.Metrics     // required
	Transport      http.RoundTripper    // talks to the origin; nil means NewTransport(TransportOptions{})
	MaxObjectSize  int64                // larger bodies are not stored; 0 means 8 MiB
	StaleIfError   time.Duration        // operator default stale-if-error window; 0 is off
	Logger         *slog.Logger         // nil means slog.Default()
	Shared         Shared               // a tier shared with other replicas; nil means none
	MaxSharedSize  int64                // larger entries stay in the local store only; 0 means 1 MiB
	Key            policy.KeyRules      // cache-key rules; the zero value keeps keys as sent
	Compression    *Compression         // serve stored bodies in other codings (encode.go); nil is off
	TagFields      []string             // fields read for purge tags (policy.TagFields); nil means all of them
	KeepTagHeaders bool                 // pass Surrogate-Key and Cache-Tag on to clients; false removes them
	AccessLog      AccessLog            // one line per request; nil means none (observe.go)
	Tracing        trace.TracerProvider // OpenTelemetry spans; nil means off (trace.go)
}

// Handler is the public side of the proxy.
type Handler struct {
	opt     Options
	store   *store.Store[*entry]
	m       *metrics.Metrics
	rp      *httputil.ReverseProxy
	origin  http.RoundTripper
	flights flights
	log     *slog.Logger
	nonce   atomic.Uint64
	codec   *compress.Codec // set when Options.Compression is
	purges  purgeLog
	tracer  trace.Tracer // nil when tracing is off
	seen    decisions    // the last storability decision per key (explain.go)
	obsPool sync.Pool    // of *observer (observe.go)
}

// NewStore returns the in-memory store the Handler uses.
func NewStore(maxBytes int64) (*store.Store[*entry], error) { return store.New[*entry](maxBytes) }

// New returns the proxy's public handler.
func New(opt Options) *Handler {
	if opt.MaxObjectSize <= 0 {
		opt.MaxObjectSize = 8 << 20
	}
	if opt.MaxSharedSize <= 0 {
		opt.MaxSharedSize = 1 << 20
	}
	if opt.Transport == nil {
		opt.Transport = NewTransport(TransportOptions{})
	}
	if opt.Logger == nil {
		opt.Logger = slog.Default()
	}
	h := &Handler{opt: opt, store: opt.Store, m: opt.Metrics, origin: opt.Transport, log: opt.Logger}
	if opt.Compression != nil {
		h.codec = compress.New()
	}
	h.flights.init()
	if opt.Tracing != nil {
		h.tracer = opt.Tracing.Tracer(Name)
	}
	h.nonce.Store(uint64(time.Now().UnixNano()))
	h.rp = &httputil.ReverseProxy{
		Rewrite:        h.rewrite,
		Transport:      roundTripFunc(h.roundTrip),
		ModifyResponse: h.count,
		ErrorHandler:   h.originError,
		BufferPool:     &bufferPool{},
		// No FlushInterval: relay flushes each write itself (see forward).
		ErrorLog: slog.NewLogLogger(opt.Logger.Handler(), slog.LevelWarn),
	}
	return h
}

// poisonable are request fields some frameworks trust for building URLs or routing.
// The cache key does not include them, so a client must not be able to set them
// for a response others will share (web cache poisoning).
var poisonable = []string{
	"Forwarded", "X-Forwarded-Host", "X-Forwarded-Server", "X-Forwarded-Scheme",
	"X-Forwarded-Port", "X-Forwarded-Prefix", "X-Forwarded-Ssl", "X-Original-Url",
	"X-Rewrite-Url", "X-Original-Host", "X-Host", "X-Http-Method-Override",
	"X-Http-Method", "X-Method-Override",
}

// rewrite turns the client's request into the origin's: origin URL and Host, our own
// X-Forwarded-For and -Proto (client-sent X-Forwarded-* are dropped by ReverseProxy
// before this runs), Via, and none of the poisonable fields.
func (h *Handler) rewrite(pr *httputil.ProxyRequest) {
	pr.SetURL(h.opt.Origin)
	out := pr.Out.Header
	setXForwarded(out, pr.In)
	for _, name := range poisonable { // canonical already: no Del, which canonicalizes each
		delete(out, name)
	}
	out["Surrogate-Capability"] = appendShared(out["Surrogate-Capability"], surrogateCapability)
	if pr.In.ProtoMajor == 1 && pr.In.ProtoMinor == 1 {
		out["Via"] = appendShared(out["Via"], via11)
	} else {
		out["Via"] = append(out["Via"], viaVersion(pr.In)+" "+Name)
	}
}

// The values rewrite adds to nearly every request, shared by all of them: header maps
// only read their values, and an append to a slice of capacity 1 copies it.
var (
	surrogateCapability = []string{policy.SurrogateCapability}
	via11               = []string{"1.1 " + Name}
)

// appendShared appends the one value of shared to prior, or is shared itself when
// there is no prior value.
func appendShared(prior, shared []string) []string {
	if len(prior) == 0 {
		return shared[:1:1]
	}
	return append(prior, shared[0])
}

// setXForwarded sets X-Forwarded-For to the client's address and X-Forwarded-Proto
// to its scheme, as ProxyRequest.SetXForwarded does after ReverseProxy has dropped
// the client's own X-Forwarded-* (so there is no prior X-Forwarded-For to extend), in
// one allocation for both values. It leaves out the X-Forwarded-Host SetXForwarded
// would add: that field is poisonable, and rewrite would delete it again.
func setXForwarded(out http.Header, in *http.Request) {
	v := make([]string, 2)
	v[1] = "http"
	if in.TLS != nil {
		v[1] = "https"
	}
	out["X-Forwarded-Proto"] = v[1:2:2]
	if ip, _, err := net.SplitHostPort(in.RemoteAddr); err == nil {
		v[0] = ip
		out["X-Forwarded-For"] = v[0:1:1]
	} else {
		delete(out, "X-Forwarded-For")
	}
}

// viaVersion is the received-protocol version of Via (RFC 9110 §7.6.3): "1.1" or "1.0",
// and "2" for HTTP/2, whose version has no minor part (Go says "HTTP/2.0").
func viaVersion(r *http.Request) string {
	if r.ProtoMajor >= 2 {
		return strconv.Itoa(r.ProtoMajor)
	}
	return r.Proto[strings.IndexByte(r.Proto, '/')+1:]
}

// serveHTTP answers one client request (ServeHTTP, in observe.go, wraps it).
func (h *Handler) serveHTTP(w http.ResponseWriter, r *http.Request) {
	if reason := rejectTarget(r); reason != "" {
		http.Error(w, reason, http.StatusBadRequest)
		return
	}
	if r.Method == http.MethodConnect {
		http.Error(w, "CONNECT is not supported: this is a reverse proxy", http.StatusMethodNotAllowed)
		return
	}
	key, now := h.Key(r.URL), time.Now()
	if r.Method != http.MethodGet && r.Method != http.MethodHead || originclient.IsUpgrade(r.Header) { // bypasses the cache; a 101 hands the connection to the origin
		x := &exchange{key: key, in: r, now: now, kind: passUnsafe}
		if policy.IsSafe(r.Method) {
			x.kind = passBypass
		}
		h.forward(w, r, x)
		return
	}
	req := policy.ParseRequest(r.Header)
	e := h.lookupFor(w, r, key)
	if e != nil && e.status == http.StatusPartialContent && !e.partialFits(r) {
		e = nil // holds other bytes than asked for: fetch (and store what comes back)
	}
	if e != nil {
		switch policy.Reuse(e.fresh, req, now) {
		case policy.Fresh:
			h.serve(w, r, e, metrics.Hit, "", now)
			return
		case policy.Stale:
			h.serve(w, r, e, metrics.Stale, "; detail=max-stale", now)
			return
		}
	}
	x := &exchange{key: key, in: r, now: now, req: req, stored: e}
	if e != nil {
		if h.serveWhileRevalidating(w, r, x) {
			return
		}
	}
	if x.req.OnlyIfCached {
		h.m.Request(metrics.Bypass)
		noteOutcome(w, metrics.Bypass)
		w.Header().Set("Cache-Status", Name+"; fwd=miss; detail=only-if-cached")
		w.Header().Set("X-Cache", "MISS")
		http.Error(w, "not in cache (only-if-cached)", http.StatusGatewayTimeout)
		return
	}
	switch {
	case e != nil:
		x.kind = passRevalidate
	case r.Method == http.MethodHead:
		x.kind = passBypass
	default:
		x.kind = passMiss
		if h.awaitFlight(w, r, x) || h.awaitSharedFill(w, r, x) {
			return
		}
	}
	h.forward(w, r, x)
}

// forward sends the request through the ReverseProxy; count or originError counts it.
func (h *Handler) forward(w http.ResponseWriter, r *http.Request, x *exchange) {
	defer h.endFlight(x, nil, false) // if the origin failed before a response existed
	x.began = h.purges.now()
	x.client = w
	observeExchange(w, x)
	h.rp.ServeHTTP(relay{w}, r.WithContext(context.WithValue(r.Context(), exchangeKey{}, x)))
	if x.body != nil {
		h.relayBody(w, r, x)
	}
}

// count records a forwarded request's outcome before its response is written, so
// /metrics never lags what a client has seen.
//
// It also takes a body relayBody copies better than ReverseProxy would (holdBody),
// and moves the origin's fields to the client's response itself (moveHeader), except
// a 101's: ReverseProxy checks its Upgrade against the request's.
func (h *Handler) count(resp *http.Response) error {
	h.stripTagFields(resp.Header)
	x, _ := resp.Request.Context().Value(exchangeKey{}).(*exchange)
	if x != nil && !x.background {
		h.m.Request(x.outcome())
	}
	if x != nil {
		holdBody(resp, x)
		if x.client != nil && resp.StatusCode != http.StatusSwitchingProtocols {
			moveHeader(x.client.Header(), resp.Header)
			resp.Header = nil // what ReverseProxy copies next: nothing left
		}
	}
	return nil
}

// moveHeader gives dst the fields of src, as ReverseProxy's copy (Header.Add of each
// value) would, without a new slice per field: a field dst lacks takes src's slice,
// which nothing writes to again (net/http clones the header when it is written, and
// the parser caps each slice at its length, so an append copies).
func moveHeader(dst, src http.Header) {
	for k, vs := range src {
		k = textproto.CanonicalMIMEHeaderKey(k) // as Add does; a no-op for the parser's names
		if prior, ok := dst[k]; ok {
			dst[k] = append(prior, vs...)
		} else {
			dst[k] = vs
		}
	}
}

// lookup returns the stored response for a request, following a variant index.
// ob, when not nil, is told whether the shared tier answered.
func (h *Handler) lookup(key string, reqHeader http.Header, ob *observer) *entry {
	e, ok := h.store.Get(key)
	if !ok && h.opt.Shared != nil {
		e, ok = h.sharedGetFor(ob, key)
	}
	if !ok {
		return nil
	}
	if e.marker {
		vk := variantKey(key, e.r().nonce, policy.SecondaryKey(reqHeader, e.r().vary))
		if e, ok = h.store.Get(vk); !ok && h.opt.Shared != nil {
			e, ok = h.sharedGetFor(ob, vk)
		}
		if !ok {
			return nil
		}
	}
	if !e.matches(reqHeader) {
		return nil
	}
	return e
}

func variantKey(key, nonce, secondary string) string {
	return key + "\x00" + nonce + "\x00" + secondary
}

// rejectTarget refuses request targets a reverse proxy must not act on: absolute-form
// URIs, which only forward proxies are sent (net/http replaces Host with the target's
// authority, so we cannot tell whether it names us), and targets that are not paths.
func rejectTarget(r *http.Request) string {
	switch {
	case r.Method == http.MethodOptions && r.RequestURI == "*":
		return ""
	case r.URL.IsAbs():
		return "absolute-form request target: this is a reverse proxy, send origin-form (a path)"
	case !strings.HasPrefix(r.URL.Path, "/") && r.Method != http.MethodConnect:
		return "request target must be a path"
	}
	return ""
}

// clientIP is used only for logs.
func clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

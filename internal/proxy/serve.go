package proxy

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/caching-proxy/caching-proxy/internal/metrics"
	"github.com/caching-proxy/caching-proxy/internal/policy"
)

// serve answers a request from a stored entry: the stored fields as they are (shared,
// never copied), Age, X-Cache: HIT and Cache-Status "hit; ttl=N" plus detail, then the
// body unless HEAD. Conditional and Range requests are answered from the entry too.
//
// A small GET body leaves Content-Length to net/http, which sets it from the one write
// it holds when the handler returns: a hit then has 8 fields, which fit Go's small map,
// instead of 9, which make net/http's header map and its clone grow into tables
// (docs/performance.md). Answers that are not the whole body (206, 304, 416) set or
// drop the field themselves in respond.
func (h *Handler) serve(w http.ResponseWriter, r *http.Request, e *entry, o metrics.Outcome, detail string, now time.Time) {
	h.m.Request(o)
	e = h.representation(r, e)
	noteOutcome(w, o)
	hdr := w.Header()
	autoLength := r.Method == http.MethodGet && e.status == http.StatusOK && len(e.body) <= autoLengthMax
	var coding []string // Content-Encoding, for countServed: found here rather than looked up again
	for k, v := range e.all() {
		if autoLength && k == "Content-Length" || e.tagged && h.hides(e, k) {
			continue
		}
		if k == "Content-Encoding" {
			coding = v
		}
		hdr[k] = v
	}
	f := e.hitFieldsAt(now, detail)
	hdr["Age"], hdr["X-Cache"], hdr["Cache-Status"] = f.vals[0:1:1], f.vals[1:2:2], f.vals[2:3:3]
	code, body := respond(hdr, r, e)
	w.WriteHeader(code)
	if r.Method != http.MethodHead && len(body) > 0 {
		_, _ = w.Write(body)
		h.countServed(coding, len(body))
	}
}

// hitFieldsAt renders Age, X-Cache and Cache-Status for a hit at now, in one
// allocation (newHitFields). A plain hit's fields are kept on the entry for the second
// they hold, so most hits render nothing.
func (e *entry) hitFieldsAt(now time.Time, detail string) *hitFields {
	age := e.fresh.Age(now)
	ageS, ttlS := int64(age/time.Second), int64((e.fresh.Lifetime-age)/time.Second)
	if f := e.hit.Load(); detail == "" && f != nil && f.age == ageS && f.ttl == ttlS {
		return f
	}
	var buf [96]byte
	b := strconv.AppendInt(buf[:0], ageS, 10)
	n := len(b)
	b = append(b, Name+"; hit; ttl="...)
	b = strconv.AppendInt(b, ttlS, 10)
	b = append(b, detail...)
	f := newHitFields(ageS, ttlS, b, n)
	if detail == "" {
		e.hit.Store(f)
	}
	return f
}

// X-Cache values, shared by every response: header maps only read them.
var (
	xCacheHit  = []string{"HIT"}
	xCacheMiss = []string{"MISS"}
)

// setCacheHeaders adds the per-use fields of a stored response.
func setCacheHeaders(hdr http.Header, e *entry, now time.Time, xcache, status string) {
	hdr["Age"] = []string{policy.AgeValue(e.fresh.Age(now))}
	if xcache == "HIT" {
		hdr["X-Cache"] = xCacheHit
	} else {
		hdr["X-Cache"] = xCacheMiss
	}
	hdr["Cache-Status"] = []string{Name + "; " + status}
}

// respond picks the status and body a stored entry gives this request.
func respond(hdr http.Header, r *http.Request, e *entry) (int, []byte) {
	switch e.status {
	case http.StatusOK:
		return answerFrom(hdr, r, e)
	case http.StatusPartialContent: // partialFits was checked before
		x := e.r()
		start, end, _ := parseRange(r.Header.Get("Range"), x.complete)
		setRange(hdr, start, end, x.complete)
		return http.StatusPartialContent, e.body[start-x.first : end-x.first+1]
	}
	return int(e.status), e.body
}

func setRange(hdr http.Header, start, end, complete int64) {
	hdr["Content-Range"] = []string{"bytes " + strconv.FormatInt(start, 10) + "-" + strconv.FormatInt(end, 10) + "/" + strconv.FormatInt(complete, 10)}
	hdr["Content-Length"] = []string{strconv.FormatInt(end-start+1, 10)}
}

// answerFrom turns a stored 200 into what the request asks for: 304 when its
// conditionals match (RFC 9110 §13.2.2), a single byte range as 206 (RFC 9110 §14),
// or the whole body. hdr is the response header being built.
func answerFrom(hdr http.Header, r *http.Request, e *entry) (int, []byte) {
	if hasConditional(r.Header) && policy.NotModified(r.Header, e.validatorFields(), e.fresh.Received) {
		for _, f := range []string{"Content-Length", "Content-Type", "Content-Encoding", "Content-Range", "Transfer-Encoding"} {
			delete(hdr, f)
		}
		return http.StatusNotModified, nil
	}
	rng := r.Header.Get("Range")
	if rng == "" || r.Method != http.MethodGet || !ifRangeMatches(r.Header, e.validatorFields()) {
		return int(e.status), e.body
	}
	start, end, ok := parseRange(rng, int64(len(e.body)))
	switch {
	case !ok: // unsupported syntax or several ranges: the whole body is a valid answer
		return int(e.status), e.body
	case start < 0:
		hdr["Content-Range"] = []string{"bytes */" + strconv.Itoa(len(e.body))}
		hdr["Content-Length"] = []string{"0"}
		return http.StatusRequestedRangeNotSatisfiable, nil
	}
	setRange(hdr, start, end, int64(len(e.body)))
	return http.StatusPartialContent, e.body[start : end+1]
}

func hasConditional(h http.Header) bool {
	return len(h["If-None-Match"]) > 0 || len(h["If-Modified-Since"]) > 0
}

// ifRangeMatches reports whether a Range applies: no If-Range, or one that names the
// stored response by strong ETag or by its exact Last-Modified date (RFC 9110 §13.1.5).
func ifRangeMatches(req, stored http.Header) bool {
	ir := req.Get("If-Range")
	switch {
	case ir == "":
		return true
	case strings.HasPrefix(ir, `"`):
		return ir == stored.Get("Etag")
	default:
		return ir == stored.Get("Last-Modified")
	}
}

// parseRange reads a single "bytes=" range against a body of size n. ok is false for
// anything else; start < 0 with ok means the range cannot be satisfied.
func parseRange(s string, n int64) (start, end int64, ok bool) {
	spec, found := strings.CutPrefix(strings.TrimSpace(s), "bytes=")
	if !found || strings.Contains(spec, ",") {
		return 0, 0, false
	}
	first, last, found := strings.Cut(strings.TrimSpace(spec), "-")
	if !found {
		return 0, 0, false
	}
	if first == "" { // suffix: the last N bytes
		k, err := strconv.ParseInt(last, 10, 64)
		if err != nil || k < 0 {
			return 0, 0, false
		}
		if k == 0 || n == 0 {
			return -1, 0, true
		}
		return max(0, n-k), n - 1, true
	}
	a, err := strconv.ParseInt(first, 10, 64)
	if err != nil || a < 0 {
		return 0, 0, false
	}
	b := n - 1
	if last != "" {
		if b, err = strconv.ParseInt(last, 10, 64); err != nil || b < a {
			return 0, 0, false
		}
		b = min(b, n-1)
	}
	if a >= n {
		return -1, 0, true
	}
	return a, b, true
}

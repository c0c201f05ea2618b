// Package bench holds what the load harness (run.sh) and the in-process benchmarks
// share: a plain net/http handler that answers from memory with the fields an origin
// would send, so "the proxy answering a hit" and "a server answering from memory"
// write the same bytes and headers.
package bench

import (
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Fields an origin of the benchmark sends with every response.
const (
	ContentType  = "application/octet-stream"
	LastModified = "Mon, 02 Jan 2006 15:04:05 GMT"
	Cacheable    = "max-age=3600"
	NoStore      = "no-store"
)

// TextPrefix is the path prefix under which the plain handler answers with Text of
// the same size, as text/plain: the proxy stores it once and serves it compressed.
const TextPrefix = "/text/"

// TextType is the Content-Type of the text paths.
const TextType = "text/plain; charset=utf-8"

// Text returns size bytes of English-like text (words from a small vocabulary in a
// fixed pseudo-random order), which compresses about as well as HTML or JSON does.
func Text(size int) []byte {
	words := strings.Fields("the cache stores one copy of each response and serves it to every client " +
		"that asks again while it stays fresh origin request header body status proxy gzip brotli " +
		"zstd identity encoding vary accept range etag validator entry key query parameter")
	b := make([]byte, 0, size+16)
	x := uint32(2463534242)
	for len(b) < size {
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		b = append(b, words[x%uint32(len(words))]...)
		if x%11 == 0 {
			b = append(b, ".\n"...)
		} else {
			b = append(b, ' ')
		}
	}
	return b[:size]
}

// NoStorePrefix is the path prefix the plain handler marks Cache-Control: no-store;
// every other path is cacheable for an hour.
const NoStorePrefix = "/nostore/"

// Body returns size bytes of printable, repeating content.
func Body(size int) []byte {
	b := make([]byte, size)
	for i := range b {
		b[i] = 'a' + byte(i%26)
	}
	return b
}

// ETag is the entity tag the plain handler sends for a body of size bytes.
func ETag(size int) string { return `"bench-` + strconv.Itoa(size) + `"` }

// Header returns the fields the plain handler sends with body under cacheControl.
func Header(body []byte, cacheControl string) http.Header {
	return http.Header{
		"Content-Type":   {ContentType},
		"Content-Length": {strconv.Itoa(len(body))},
		"Cache-Control":  {cacheControl},
		"Etag":           {ETag(len(body))},
		"Last-Modified":  {LastModified},
	}
}

// Handler answers every request with body, as a typical Go handler does: a Set per
// field, then the body. delay, when positive, is waited before answering, to stand
// for an origin's own work; a request's "delay" query parameter (e.g. ?delay=10ms)
// overrides it, so one origin serves the load harness's fast and slow rows.
func Handler(body []byte, delay time.Duration) http.Handler {
	length, etag := strconv.Itoa(len(body)), ETag(len(body))
	text := Text(len(body))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		wait := delay
		if r.URL.RawQuery != "" { // parsed only when present: the plain rows pay nothing
			if d, err := time.ParseDuration(r.URL.Query().Get("delay")); err == nil {
				wait = d
			}
		}
		if wait > 0 {
			time.Sleep(wait)
		}
		cc := Cacheable
		if len(r.URL.Path) >= len(NoStorePrefix) && r.URL.Path[:len(NoStorePrefix)] == NoStorePrefix {
			cc = NoStore
		}
		h, b, ct := w.Header(), body, ContentType
		if strings.HasPrefix(r.URL.Path, TextPrefix) {
			b, ct = text, TextType
		}
		h.Set("Content-Type", ct)
		h.Set("Content-Length", length)
		h.Set("Cache-Control", cc)
		h.Set("Etag", etag)
		h.Set("Last-Modified", LastModified)
		if r.Method == http.MethodHead {
			return
		}
		_, _ = w.Write(b)
	})
}

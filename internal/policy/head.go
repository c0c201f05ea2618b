package policy

import (
	"net/http"
	"strings"
	"time"
)

// HeadMatches reports whether a 200 response to HEAD may update a stored GET response
// that could have been chosen for the same request (RFC 9111 §4.3.5): every validator
// the HEAD response carries (ETag, Last-Modified) has the stored response's value, and
// so does its Content-Length when it has one. When it reports false the stored body is
// not the current one, and the stored response is to be considered stale. Update with
// Refresh, as from a 304 (§3.2). now is the reference for two-digit years.
func HeadMatches(stored, head http.Header, now time.Time) bool {
	if v, ok := single(head, "Etag"); ok {
		if s, _ := single(stored, "Etag"); s != v {
			return false
		}
	} else if len(head["Etag"]) > 0 {
		return false // several ETag lines: not a validator we can match
	}
	if len(head["Last-Modified"]) > 0 {
		h, okH := parseDate(head, "Last-Modified", now)
		s, okS := parseDate(stored, "Last-Modified", now)
		if !okH || !okS || !h.Equal(s) {
			return false
		}
	}
	if len(head["Content-Length"]) > 0 {
		h, okH := single(head, "Content-Length")
		s, okS := single(stored, "Content-Length")
		if !okH || !okS || h != s {
			return false
		}
	}
	return true
}

// single returns the one field line of name, trimmed; ok is false with none or several.
func single(h http.Header, name string) (string, bool) {
	v := h[name]
	if len(v) != 1 {
		return "", false
	}
	return strings.Trim(v[0], " \t"), true
}

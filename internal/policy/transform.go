package policy

import (
	"net/http"
	"strings"
)

// MayTransform reports whether an intermediary may change the content of a response
// with header resp for a request with header req, for example by changing its
// content coding: not when either says no-transform (RFC 9110 §7.7; RFC 9111
// §5.2.1.6 for the request, §5.2.2.6 for the response, in Cache-Control or in the
// targeted field that governs us, RFC 9213).
func MayTransform(req, resp http.Header) bool {
	if d, _ := parseResponseLines(resp["Cache-Control"]); d.NoTransform {
		return false
	}
	if d, _ := ParseResponse(resp); d.NoTransform {
		return false
	}
	return !ParseRequest(req).NoTransform
}

// ContentCoding returns the single content coding of a response, lower-cased
// ("identity" when there is none, RFC 9110 §8.4). ok is false when several codings
// are stacked, which the proxy never undoes.
func ContentCoding(h http.Header) (coding string, ok bool) {
	var codings []string
	for _, line := range h["Content-Encoding"] {
		for _, c := range strings.Split(line, ",") {
			if c = asciiLower(strings.TrimSpace(c)); c != "" && c != "identity" {
				codings = append(codings, c)
			}
		}
	}
	switch len(codings) {
	case 0:
		return "identity", true
	case 1:
		if codings[0] == "x-gzip" {
			return "gzip", true
		}
		return codings[0], true
	}
	return "", false
}

// WeakETag returns the weak form of an entity-tag (RFC 9110 §8.8.1): a representation
// whose bytes differ from the one a strong tag names, such as another content
// coding of it, may carry only a weak validator. An absent or weak tag is returned as it is.
func WeakETag(etag string) string {
	if etag == "" || strings.HasPrefix(etag, "W/") {
		return etag
	}
	return "W/" + etag
}

// VaryWith returns Vary field lines that also name field, adding it only when absent
// (and never to "*"). The lines given are not changed.
func VaryWith(lines []string, field string) []string {
	for _, n := range VaryNames(http.Header{"Vary": lines}) {
		if n == "*" || n == http.CanonicalHeaderKey(field) {
			return lines
		}
	}
	if len(lines) == 0 {
		return []string{field}
	}
	return append(lines[:len(lines):len(lines)], field)
}

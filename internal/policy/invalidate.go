package policy

import (
	"net/http"
	"net/url"
)

// safeMethods are the methods RFC 9110 §9.2.1 defines as safe; every other method,
// including unknown ones, invalidates.
var safeMethods = map[string]bool{
	"GET": true, "HEAD": true, "OPTIONS": true, "TRACE": true,
	"PROPFIND": true, "SEARCH": true, "REPORT": true, "QUERY": true,
}

// Invalidates reports whether a response to method with status must invalidate stored
// responses (RFC 9111 §4.4): an unsafe method answered with a non-error status.
func Invalidates(method string, status int) bool {
	return !safeMethods[method] && status >= 200 && status < 400
}

// InvalidatedKeys returns the primary keys an unsafe request invalidates: its own
// target and the URIs in Location and Content-Location when they have the same
// origin (§4.4). requestURL is the absolute URL the client asked for.
func InvalidatedKeys(requestURL *url.URL, h http.Header) []string {
	keys := []string{Key(requestURL)}
	for _, field := range []string{"Location", "Content-Location"} {
		v := h.Get(field)
		if v == "" {
			continue
		}
		u, err := requestURL.Parse(v)
		if err != nil || u.Scheme != requestURL.Scheme || u.Host != requestURL.Host {
			continue
		}
		keys = append(keys, Key(u))
	}
	return keys
}

// Key is the primary cache key of a URL (RFC 9111 §2): path and query exactly as sent,
// without scheme or host, since one proxy fronts exactly one origin.
func Key(u *url.URL) string {
	p := u.Opaque
	if p == "" {
		p = u.EscapedPath()
	}
	if p == "" {
		p = "/"
	}
	if u.ForceQuery || u.RawQuery != "" {
		return p + "?" + u.RawQuery
	}
	return p
}

// IsSafe reports whether a method is safe (RFC 9110 §9.2.1), so its responses never invalidate.
func IsSafe(method string) bool { return safeMethods[method] }

package policy

import (
	"net/http"
	"strings"
	"time"
)

// Conditional adds validators from a stored response's header to the header of a
// request that revalidates it (RFC 9111 §4.3.1): If-None-Match with its ETag and
// If-Modified-Since with its Last-Modified. It reports whether it added any.
func Conditional(req, stored http.Header) bool {
	added := false
	if etag := stored.Get("Etag"); etag != "" {
		req.Set("If-None-Match", etag)
		added = true
	}
	if lm := stored.Get("Last-Modified"); lm != "" {
		req.Set("If-Modified-Since", lm)
		added = true
	}
	return added
}

// HasValidators reports whether a stored response can be revalidated.
func HasValidators(stored http.Header) bool {
	return stored.Get("Etag") != "" || stored.Get("Last-Modified") != ""
}

// NotModified reports whether a client's conditional request is satisfied by a stored
// response, so the cache may answer 304 itself (RFC 9110 §13.1.2, §13.1.3, §13.2.2):
// If-None-Match decides when present (weak comparison); otherwise If-Modified-Since
// against the stored response's last modification. received is when the stored
// response reached the cache.
func NotModified(req, stored http.Header, received time.Time) bool {
	if inm := req.Values("If-None-Match"); len(inm) > 0 {
		etag := stored.Get("Etag")
		for _, line := range inm {
			for _, tag := range entityTags(line) {
				if tag == "*" || (etag != "" && weakMatch(tag, etag)) {
					return true
				}
			}
		}
		return false
	}
	ims, ok := parseDate(req, "If-Modified-Since", received)
	if !ok {
		return false
	}
	return !LastModified(stored, received).After(ims)
}

// LastModified is the latest time a stored response can have changed, for comparing
// with If-Modified-Since (RFC 9111 §4.3.2): its Last-Modified, or without one its
// Date, or without either the time it was received.
func LastModified(stored http.Header, received time.Time) time.Time {
	if lm, ok := parseDate(stored, "Last-Modified", received); ok {
		return lm
	}
	if date, ok := parseDate(stored, "Date", received); ok {
		return date
	}
	return received.Truncate(time.Second) // HTTP-dates have whole seconds
}

// weakMatch compares two entity-tags ignoring the W/ prefix (RFC 9110 §8.8.3.2).
func weakMatch(a, b string) bool {
	return strings.TrimPrefix(a, "W/") == strings.TrimPrefix(b, "W/")
}

// entityTags splits an If-None-Match list (RFC 9110 §8.8.3): a comma inside a quoted
// opaque-tag belongs to the tag. Unquoted junk is kept as a member so it never matches
// a stored quoted tag by accident.
func entityTags(s string) []string {
	var tags []string
	for i := 0; i < len(s); {
		switch c := s[i]; {
		case c == ' ' || c == '\t' || c == ',':
			i++
			continue
		}
		start := i
		if strings.HasPrefix(s[i:], "W/") {
			i += 2
		}
		if i < len(s) && s[i] == '"' {
			end := strings.IndexByte(s[i+1:], '"')
			if end < 0 {
				return append(tags, s[start:])
			}
			i += end + 2
		} else {
			for i < len(s) && s[i] != ',' {
				i++
			}
		}
		tags = append(tags, strings.TrimRight(s[start:i], " \t"))
	}
	return tags
}

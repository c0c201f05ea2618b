package policy

import (
	"net/http"
	"time"
)

// HeuristicCap bounds heuristic freshness, as Squid's and Apache's default does.
const HeuristicCap = 24 * time.Hour

// Lifetime returns how long a stored response stays fresh for a shared cache
// (RFC 9111 §4.2.1): s-maxage, then max-age, then Expires minus Date. Only when
// none is present does the Last-Modified heuristic apply (§4.2.2): a tenth of the
// time since the last modification, capped, for heuristically cacheable statuses
// or responses marked public. received stands in for a missing or invalid Date.
func Lifetime(status int, h http.Header, d *Directives, received time.Time) (life time.Duration, heuristic bool) {
	switch {
	case d.SMaxAge >= 0:
		return seconds(int64(d.SMaxAge)), false
	case d.MaxAge >= 0:
		return seconds(int64(d.MaxAge)), false
	case len(h["Expires"]) > 0 && !targeted(h):
		// An invalid Expires, such as "0", a date off the HTTP-date grammar or more
		// than one field line, means already expired (§5.3).
		exp, ok := parseDate(h, "Expires", received)
		if !ok {
			return 0, false
		}
		return max(0, exp.Sub(dateOr(h, received))), false
	}
	if !heuristicallyCacheable(status) && !d.Public {
		return 0, false
	}
	lm, ok := parseDate(h, "Last-Modified", received)
	if !ok {
		return 0, false
	}
	since := dateOr(h, received).Sub(lm)
	if since <= 0 {
		return 0, false
	}
	return min(since/10, HeuristicCap), true
}

// dateOr returns the response's Date, or fallback when it has none that parses.
func dateOr(h http.Header, fallback time.Time) time.Time {
	if t, ok := parseDate(h, "Date", fallback); ok {
		return t
	}
	return fallback
}

// seconds converts delta-seconds, saturating rather than overflowing.
func seconds(n int64) time.Duration {
	const limit = int64(1<<63-1) / int64(time.Second)
	if n > limit {
		n = limit
	}
	return time.Duration(n) * time.Second
}

package policy

import (
	"net/http"
	"time"
)

// Freshness is what the cache keeps about a stored response to decide later, without
// parsing its headers again, whether the response may answer a request.
type Freshness struct {
	Lifetime        time.Duration // §4.2.1
	InitialAge      time.Duration // corrected initial age, §4.2.3
	Received        time.Time     // response_time
	StaleRevalidate time.Duration // stale-while-revalidate window, RFC 5861
	StaleIfError    time.Duration // stale-if-error window, RFC 5861
	NoCache         bool          // unqualified no-cache: validate before every reuse
	MustRevalidate  bool          // must-revalidate, proxy-revalidate or s-maxage: never serve stale
	Heuristic       bool          // Lifetime came from Last-Modified
}

// Assess computes the Freshness of a response the cache is about to store.
func Assess(status int, h http.Header, d *Directives, requested, received time.Time) Freshness {
	life, heuristic := Lifetime(status, h, d, received)
	f := Freshness{
		Lifetime:       life,
		Heuristic:      heuristic,
		InitialAge:     InitialAge(h, requested, received),
		Received:       received,
		NoCache:        d.NoCachePresent && len(d.NoCache) == 0,
		MustRevalidate: d.MustRevalidate || d.ProxyRevalidate || d.SMaxAge >= 0,
	}
	if d.StaleWhileRevalidate > 0 {
		f.StaleRevalidate = seconds(int64(d.StaleWhileRevalidate))
	}
	if d.StaleIfError > 0 {
		f.StaleIfError = seconds(int64(d.StaleIfError))
	}
	return f
}

// Age is the current age of the stored response at now.
func (f Freshness) Age(now time.Time) time.Duration { return CurrentAge(f.InitialAge, f.Received, now) }

// TTL is how much longer the response stays fresh at now; negative when stale.
func (f Freshness) TTL(now time.Time) time.Duration { return f.Lifetime - f.Age(now) }

// Verdict says how a stored response may be used for one request.
type Verdict int

const (
	Fresh      Verdict = iota // serve it
	Stale                     // serve it stale: the client allowed it with max-stale
	Revalidate                // ask the origin first (conditionally when there are validators)
)

// Reuse decides whether a stored response may answer a request with directives req
// (RFC 9111 §4, §4.2.4, §5.2.1).
func Reuse(f Freshness, req *RequestDirectives, now time.Time) Verdict {
	age := f.Age(now)
	ttl := f.Lifetime - age
	switch {
	case f.NoCache || req.NoCache:
		return Revalidate
	case req.MaxAge >= 0 && age > seconds(int64(req.MaxAge)):
		return Revalidate
	case req.MinFresh >= 0 && ttl < seconds(int64(req.MinFresh)):
		return Revalidate
	case ttl > 0:
		return Fresh
	case f.MustRevalidate:
		return Revalidate
	case req.MaxStaleSet && (req.MaxStale < 0 || -ttl <= seconds(int64(req.MaxStale))):
		return Stale
	}
	return Revalidate
}

// StaleWithin reports whether a stale response may still be served within window past
// its lifetime; must-revalidate and no-cache forbid it (§4.2.4).
func (f Freshness) StaleWithin(window time.Duration, now time.Time) bool {
	if f.MustRevalidate || f.NoCache || window <= 0 {
		return false
	}
	return -f.TTL(now) <= window
}

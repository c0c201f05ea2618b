package policy

import (
	"net/http"

	"github.com/pquerna/cachecontrol/cacheobject"
)

// Exchange is a request and the response the origin gave to it, as the policy sees them.
type Exchange struct {
	Method        string
	RequestHeader http.Header
	Request       *RequestDirectives
	Status        int
	Header        http.Header // response header
	Directives    *Directives // from ParseResponse(Header)
}

// Storable reports whether a shared cache may store the response (RFC 9111 §3),
// and if not, a short reason for the Cache-Status detail parameter.
func Storable(x Exchange) (ok bool, why string) {
	if x.Method != http.MethodGet {
		return false, "method"
	}
	d := x.Directives
	// cacheobject knows the RFC 7234 rules: no-store, private, Authorization, the
	// request's no-store, and which statuses need explicit freshness.
	obj := cacheobject.Object{
		RespDirectives: d,
		RespHeaders:    x.Header,
		RespStatusCode: x.Status,
		ReqDirectives:  x.Request,
		ReqHeaders:     x.RequestHeader,
		ReqMethod:      x.Method,
	}
	var rv cacheobject.ObjectResults
	cacheobject.CachableObject(&obj, &rv)
	mustUnderstand := hasMustUnderstand(d)
	if mustUnderstand && !understood(x.Status) {
		return false, "must-understand"
	}
	for _, r := range rv.OutReasons {
		switch {
		case r == cacheobject.ReasonResponseUncachableByDefault && heuristicallyCacheable(x.Status):
			continue // 308, which RFC 7234 did not list
		case r == cacheobject.ReasonResponseNoStore && mustUnderstand:
			continue // must-understand overrides no-store for a status we understand (§5.2.2.3)
		case r == cacheobject.ReasonResponsePrivate && len(d.Private) > 0 && !unqualified(x.Header["Cache-Control"], "private"):
			continue // private="F": a shared cache stores the rest, without F (§5.2.2.7); see StoredHeader
		}
		return false, reasonDetail(r)
	}
	explicit := hasExplicitFreshness(x.Header, d)
	switch {
	case x.Status < 200 || x.Status == http.StatusNotModified:
		return false, "status"
	case x.Status == http.StatusPartialContent && !partialStorable(x.Header):
		return false, "status"
	case !understood(x.Status) && !heuristicallyCacheable(x.Status) && !explicit && !d.Public:
		return false, "status"
	case VaryStar(x.Header):
		return false, "vary-star"
	case len(x.Header["Set-Cookie"]) > 0 && !explicit && !d.Public:
		// A Set-Cookie response is per user unless the origin vouched for sharing it
		// with explicit freshness; heuristic freshness alone is not enough (RFC 9111 §7.3).
		return false, "set-cookie"
	}
	return true, ""
}

// hasMustUnderstand reports whether the response carries must-understand (RFC 9111 §5.2.2.3),
// which cacheobject files under extensions.
func hasMustUnderstand(d *Directives) bool {
	for _, e := range d.Extensions {
		if e == "must-understand" {
			return true
		}
	}
	return false
}

// hasExplicitFreshness reports whether the origin said how long the response is fresh.
func hasExplicitFreshness(h http.Header, d *Directives) bool {
	return d.SMaxAge >= 0 || d.MaxAge >= 0 || (len(h["Expires"]) > 0 && !targeted(h))
}

func reasonDetail(r cacheobject.Reason) string {
	switch r {
	case cacheobject.ReasonResponseNoStore, cacheobject.ReasonRequestNoStore:
		return "no-store"
	case cacheobject.ReasonResponsePrivate:
		return "private"
	case cacheobject.ReasonRequestAuthorizationHeader:
		return "authorization"
	case cacheobject.ReasonResponseUncachableByDefault:
		return "status"
	default:
		return "method"
	}
}

// partialStorable reports whether a 206 can be kept: one byte range of a representation
// of known length, not multipart (RFC 9111 §3.3).
func partialStorable(h http.Header) bool {
	_, _, _, ok := ContentRange(h)
	return ok
}

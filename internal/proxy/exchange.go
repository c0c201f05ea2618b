package proxy

import (
	"io"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/caching-proxy/caching-proxy/internal/metrics"
	"github.com/caching-proxy/caching-proxy/internal/policy"
)

// pass is why a request goes to the origin.
type pass int

const (
	passBypass     pass = iota // safe but not cacheable here (HEAD miss, OPTIONS, ...)
	passUnsafe                 // unsafe method: forward, then invalidate on success
	passMiss                   // nothing stored: fetch and maybe store
	passRevalidate             // stored but not usable as is: ask conditionally
)

// exchange carries one request's cache state from the Handler to the Transport.
type exchange struct {
	kind   pass
	key    string                    // primary cache key
	in     *http.Request             // the client's request
	req    *policy.RequestDirectives // its Cache-Control
	stored *entry                    // what the store had, if anything
	now    time.Time                 // when the request arrived
	// flight is set when this request leads a coalesced fetch. It is ended once, by
	// whichever comes first of the fetch's end and the handler's (a fill may finish on
	// a background drain while the handler unwinds), so it is taken atomically.
	flight     atomic.Pointer[flight]
	result     metrics.Outcome // set by the Transport
	background bool            // a refresh nobody waits for: not counted as a request
	filled     *entry          // what a fetch stored, once its body is complete
	lease      func()          // releases the shared tier's fill lease this fetch holds
	began      uint64          // the purge log's position when it went to the origin

	obs          *observer           // the client request's observer; nil when none (observe.go)
	client       http.ResponseWriter // where forward writes the response; count moves the origin's fields there
	originStatus int                 // the status of the last origin exchange; 0 before one or on an error

	body       io.ReadCloser // a body ReverseProxy left to relayBody (relay.go), and its length
	bodyLength int64
}

type exchangeKey struct{}

func (x *exchange) outcome() metrics.Outcome {
	if x.result == "" {
		if x.kind == passMiss || x.kind == passRevalidate {
			return metrics.Miss
		}
		return metrics.Bypass
	}
	return x.result
}

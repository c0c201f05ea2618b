// Package admin serves the private listener: metrics, health, cache clearing and purging.
// It never shares a port with proxied traffic, so no origin path is hidden by it and
// no client of the proxy can reach it unless the operator exposes it.
package admin

import (
	"crypto/subtle"
	"encoding/json"
	"net/http"
	"net/http/pprof"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Cleared is what a clear dropped.
type Cleared struct {
	Entries int64 `json:"entries"`
	Bytes   int64 `json:"bytes"`
}

// Clearer empties the cache.
type Clearer interface {
	Clear() Cleared
}

// Options configure the admin handler. The zero value serves metrics and health only
// to loopback-bound listeners and needs no token.
type Options struct {
	Token  string // when set, POST /cache/clear and purges need "Authorization: Bearer <Token>"
	Pprof  bool   // serve /debug/pprof/
	Purger Purger // serves POST /cache/purge and PURGE; nil means no purge API
	// Inspector serves GET /cache/entries?url= and GET /cache/explain?url= (inspect.go);
	// nil serves neither. Keys serves GET /cache/entries?prefix=; nil answers 501.
	Inspector Inspector
	Keys      KeyLister
}

// Handler returns the admin API:
//
//	GET  /healthz      200 "ok"
//	GET  /metrics      Prometheus text format
//	POST /cache/clear  empties the cache; 200 with Cleared as JSON
//	POST /cache/purge  PurgeRequest as JSON; 200 with Purged as JSON, 400 naming the problem
//	PURGE <path>       that URL, every variant; with Surrogate-Key or xkey-purge, those tags
//	GET  /cache/entries?url=/p?q | ?prefix=/v1/&after=&limit=   what is stored (inspect.go)
//	GET  /cache/explain?url=/p?q  why the last response was or was not stored
func Handler(c Clearer, g prometheus.Gatherer, opt Options) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte("ok\n"))
	})
	mux.Handle("GET /metrics", promhttp.HandlerFor(g, promhttp.HandlerOpts{}))
	mux.Handle("POST /cache/clear", requireToken(opt.Token, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(c.Clear())
	})))
	if opt.Purger != nil {
		mux.Handle("POST /cache/purge", requireToken(opt.Token, purgeJSON(opt.Purger)))
		mux.Handle("PURGE /", requireToken(opt.Token, purgeMethod(opt.Purger)))
	}
	inspection(mux, opt)
	if opt.Pprof {
		// With methods, so they do not overlap "PURGE /" (a pattern for every method
		// under /debug/pprof/ would conflict with it, and ServeMux panics on that).
		mux.Handle("GET /debug/pprof/", requireToken(opt.Token, http.HandlerFunc(pprof.Index)))
		mux.Handle("GET /debug/pprof/profile", requireToken(opt.Token, http.HandlerFunc(pprof.Profile)))
		mux.Handle("GET /debug/pprof/trace", requireToken(opt.Token, http.HandlerFunc(pprof.Trace)))
		mux.Handle("GET /debug/pprof/symbol", requireToken(opt.Token, http.HandlerFunc(pprof.Symbol)))
		mux.Handle("POST /debug/pprof/symbol", requireToken(opt.Token, http.HandlerFunc(pprof.Symbol)))
	}
	return mux
}

// requireToken answers 401 unless the request carries the bearer token; with no
// token configured every request passes (the listener is loopback-only then).
func requireToken(token string, next http.Handler) http.Handler {
	if token == "" {
		return next
	}
	want := []byte("Bearer " + token)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if subtle.ConstantTimeCompare([]byte(r.Header.Get("Authorization")), want) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="caching-proxy admin"`)
			http.Error(w, "admin token required", http.StatusUnauthorized)
			return
		}
		next.ServeHTTP(w, r)
	})
}

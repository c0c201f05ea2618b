package proxy

import (
	"context"
	"errors"
	"net"
	"net/http"
	"strings"
)

// originError answers a request the origin could not: 504 for a timeout, 502 for
// anything else, each with a short plain-text reason. It logs once per request.
func (h *Handler) originError(w http.ResponseWriter, r *http.Request, err error) {
	if x, _ := r.Context().Value(exchangeKey{}).(*exchange); x != nil && !x.background {
		h.m.Request(x.outcome())
	}
	if errors.Is(err, context.Canceled) && r.Context().Err() != nil {
		return // the client went away; there is nobody to answer
	}
	code, reason := http.StatusBadGateway, "origin unreachable"
	var ne net.Error
	switch {
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		code, reason = http.StatusGatewayTimeout, "origin timed out"
	case isMalformed(err):
		reason = "malformed response from origin"
	case errors.Is(err, errIncompleteBody):
		reason = "origin response incomplete"
	}
	h.log.Warn("origin request failed", "method", r.Method, "path", r.URL.Path, "client", clientIP(r), "status", code, "err", err)
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Cache", "MISS")
	w.Header().Set("Cache-Status", Name+"; fwd=miss; detail="+map[int]string{502: "origin-error", 504: "origin-timeout"}[code])
	w.WriteHeader(code)
	_, _ = w.Write([]byte(reason + "\n"))
}

// isMalformed reports whether the origin sent something that is not HTTP.
func isMalformed(err error) bool {
	msg := err.Error()
	for _, s := range []string{"malformed HTTP", "bad Content-Length", "invalid Content-Length",
		"unsupported transfer encoding", "too many transfer encodings", "server response headers exceeded",
		"malformed MIME header", "multiple Content-Length"} {
		if strings.Contains(msg, s) {
			return true
		}
	}
	return false
}

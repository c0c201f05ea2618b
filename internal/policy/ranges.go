package policy

import (
	"net/http"
	"strconv"
	"strings"
)

// ContentRange parses the Content-Range of a 206 with one byte range and a known
// complete length ("bytes 4-9/10", RFC 9110 §14.4). ok is false for anything else,
// which a cache cannot store.
func ContentRange(h http.Header) (first, last, complete int64, ok bool) {
	v := h.Get("Content-Range")
	spec, found := strings.CutPrefix(strings.TrimSpace(v), "bytes ")
	if !found {
		return 0, 0, 0, false
	}
	rng, size, found := strings.Cut(spec, "/")
	a, b, found2 := strings.Cut(rng, "-")
	if !found || !found2 {
		return 0, 0, 0, false
	}
	var err1, err2, err3 error
	first, err1 = strconv.ParseInt(a, 10, 64)
	last, err2 = strconv.ParseInt(b, 10, 64)
	complete, err3 = strconv.ParseInt(size, 10, 64)
	if err1 != nil || err2 != nil || err3 != nil || first < 0 || last < first || last >= complete {
		return 0, 0, 0, false
	}
	return first, last, complete, true
}

package policy

import (
	"fmt"
	"net/http"
	"sort"
	"strings"
	"testing"
	"time"
)

// t0 is the Date of most test responses; it has no sub-second part, as HTTP-dates have none.
var t0 = time.Date(2024, time.March, 1, 12, 0, 0, 0, time.UTC)

func httpDate(t time.Time) string { return t.UTC().Format(http.TimeFormat) }

// hdr builds a header from name, value pairs; a repeated name adds a field line.
// Names are used exactly as given, so a test can place a non-canonical map key.
func hdr(kv ...string) http.Header {
	if len(kv)%2 != 0 {
		panic("hdr: odd number of arguments")
	}
	h := http.Header{}
	for i := 0; i < len(kv); i += 2 {
		h.Add(kv[i], kv[i+1]) // canonical keys, as net/http delivers them
	}
	return h
}

// verdict reports a failed case. A case with a bug note pins what the RFC requires
// where the code does not yet do it: it is skipped while it fails, and fails once it
// passes, so that the note is removed together with the bug.
func verdict(t *testing.T, bug string, ok bool, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	switch {
	case ok && bug != "":
		t.Errorf("case passes now; remove its note %q", "BUG: "+bug)
	case !ok && bug != "":
		t.Skipf("BUG: %s: %s", bug, msg)
	case !ok:
		t.Error(msg)
	}
}

// describe renders response directives in a fixed order, so a table can state them as a string.
func describe(d *Directives) string {
	var s []string
	flag := func(on bool, name string) {
		if on {
			s = append(s, name)
		}
	}
	fields := func(present bool, names map[string]bool, name string) {
		switch {
		case len(names) > 0:
			s = append(s, name+"="+fieldList(names))
		case present:
			s = append(s, name)
		}
	}
	num := func(v int32, name string) {
		if v != -1 {
			s = append(s, fmt.Sprintf("%s=%d", name, v))
		}
	}
	flag(d.Public, "public")
	fields(d.PrivatePresent, d.Private, "private")
	fields(d.NoCachePresent, d.NoCache, "no-cache")
	flag(d.NoStore, "no-store")
	flag(d.NoTransform, "no-transform")
	flag(d.MustRevalidate, "must-revalidate")
	flag(d.ProxyRevalidate, "proxy-revalidate")
	flag(d.Immutable, "immutable")
	num(int32(d.MaxAge), "max-age")
	num(int32(d.SMaxAge), "s-maxage")
	num(int32(d.StaleWhileRevalidate), "stale-while-revalidate")
	num(int32(d.StaleIfError), "stale-if-error")
	for _, e := range d.Extensions {
		s = append(s, "ext("+e+")")
	}
	return strings.Join(s, " ")
}

// describeRequest renders request directives in a fixed order.
func describeRequest(d *RequestDirectives) string {
	var s []string
	flag := func(on bool, name string) {
		if on {
			s = append(s, name)
		}
	}
	num := func(v int32, name string) {
		if v != -1 {
			s = append(s, fmt.Sprintf("%s=%d", name, v))
		}
	}
	flag(d.NoCache, "no-cache")
	flag(d.NoStore, "no-store")
	flag(d.NoTransform, "no-transform")
	flag(d.OnlyIfCached, "only-if-cached")
	num(int32(d.MaxAge), "max-age")
	switch {
	case d.MaxStaleSet && d.MaxStale == -1:
		s = append(s, "max-stale")
	case d.MaxStaleSet:
		s = append(s, fmt.Sprintf("max-stale=%d", d.MaxStale))
	case d.MaxStale != -1: // a value without the flag would be a parsing slip
		s = append(s, fmt.Sprintf("unset-max-stale=%d", d.MaxStale))
	}
	num(int32(d.MinFresh), "min-fresh")
	num(int32(d.StaleIfError), "stale-if-error")
	for _, e := range d.Extensions {
		s = append(s, "ext("+e+")")
	}
	return strings.Join(s, " ")
}

func fieldList(names map[string]bool) string {
	var l []string
	for n := range names {
		l = append(l, n)
	}
	sort.Strings(l)
	return "[" + strings.Join(l, " ") + "]"
}

// exchange builds what Storable sees from a request and a response, parsing both as the proxy does.
func exchange(method string, reqHeader http.Header, status int, respHeader http.Header) Exchange {
	if reqHeader == nil {
		reqHeader = http.Header{}
	}
	if respHeader == nil {
		respHeader = http.Header{}
	}
	d, _ := ParseResponse(respHeader)
	return Exchange{
		Method:        method,
		RequestHeader: reqHeader,
		Request:       ParseRequest(reqHeader),
		Status:        status,
		Header:        respHeader,
		Directives:    d,
	}
}

// validHeaderValue reports whether s could arrive as a field value on the wire
// (RFC 9110 §5.5): no control characters but HTAB, which net/http rejects anyway.
func validHeaderValue(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < ' ' && c != '\t') || c == 0x7f {
			return false
		}
	}
	return true
}

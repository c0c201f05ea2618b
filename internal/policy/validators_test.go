package policy

import (
	"net/http"
	"reflect"
	"testing"
	"time"
)

func TestConditional(t *testing.T) {
	lm := httpDate(t0)
	tests := []struct {
		name    string
		req     http.Header
		stored  http.Header
		want    http.Header
		wantAdd bool
	}{
		// RFC 9111 §4.3.1: send the stored validators.
		{"ETag and Last-Modified", hdr(), hdr("Etag", `"v1"`, "Last-Modified", lm),
			hdr("If-None-Match", `"v1"`, "If-Modified-Since", lm), true},
		{"ETag only", hdr(), hdr("Etag", `W/"v1"`), hdr("If-None-Match", `W/"v1"`), true},
		{"Last-Modified only", hdr(), hdr("Last-Modified", lm), hdr("If-Modified-Since", lm), true},
		{"no validators leaves the request alone", hdr("Accept", "x"), hdr("Content-Type", "text/plain"), hdr("Accept", "x"), false},
		{"replaces the client's own validators", hdr("If-None-Match", `"old"`, "If-Modified-Since", "junk"), hdr("Etag", `"v2"`, "Last-Modified", lm),
			hdr("If-None-Match", `"v2"`, "If-Modified-Since", lm), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := tt.req.Clone()
			added := Conditional(req, tt.stored)
			if added != tt.wantAdd || !reflect.DeepEqual(req, tt.want) {
				t.Errorf("Conditional(%q, %q) = %v, request %q; want %v, %q", tt.req, tt.stored, added, req, tt.wantAdd, tt.want)
			}
		})
	}
}

func TestHasValidators(t *testing.T) {
	tests := []struct {
		name   string
		stored http.Header
		want   bool
	}{
		{"none", hdr("Content-Type", "text/plain"), false},
		{"ETag", hdr("Etag", `"x"`), true},
		{"Last-Modified", hdr("Last-Modified", httpDate(t0)), true},
		{"empty ETag", hdr("Etag", ""), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := HasValidators(tt.stored); got != tt.want {
				t.Errorf("HasValidators(%q) = %v, want %v", tt.stored, got, tt.want)
			}
		})
	}
}

func TestNotModified(t *testing.T) {
	lm := httpDate(t0)
	received := t0.Add(time.Hour) // when the stored response arrived
	tests := []struct {
		name   string
		req    http.Header
		stored http.Header
		want   bool
		bug    string
	}{
		// RFC 9110 §13.1.2: If-None-Match uses the weak comparison.
		{"strong match", hdr("If-None-Match", `"a"`), hdr("Etag", `"a"`), true, ""},
		{"weak request tag matches strong stored tag", hdr("If-None-Match", `W/"a"`), hdr("Etag", `"a"`), true, ""},
		{"strong request tag matches weak stored tag", hdr("If-None-Match", `"a"`), hdr("Etag", `W/"a"`), true, ""},
		{"weak matches weak", hdr("If-None-Match", `W/"a"`), hdr("Etag", `W/"a"`), true, ""},
		{"mismatch", hdr("If-None-Match", `"b"`), hdr("Etag", `"a"`), false, ""},
		{"lower-case w/ is not the weak prefix", hdr("If-None-Match", `w/"a"`), hdr("Etag", `"a"`), false, ""},
		{"opaque tags are case-sensitive", hdr("If-None-Match", `"A"`), hdr("Etag", `"a"`), false, ""},
		{"match in a list", hdr("If-None-Match", `"x", "a", "y"`), hdr("Etag", `"a"`), true, ""},
		{"match on a later field line", hdr("If-None-Match", `"x"`, "If-None-Match", `"a"`), hdr("Etag", `"a"`), true, ""},
		{"star matches any stored response", hdr("If-None-Match", "*"), hdr("Etag", `"a"`), true, ""},
		{"star matches without a stored ETag", hdr("If-None-Match", "*"), hdr(), true, ""},
		{"no stored ETag never matches a tag", hdr("If-None-Match", `"a"`), hdr("Last-Modified", lm), false, ""},
		{"ETag containing a comma", hdr("If-None-Match", `"a,b"`), hdr("Etag", `"a,b"`), true,
			""},
		// §13.1.3: If-Modified-Since is ignored when If-None-Match is present.
		{"If-None-Match mismatch wins over a matching If-Modified-Since", hdr("If-None-Match", `"b"`, "If-Modified-Since", lm),
			hdr("Etag", `"a"`, "Last-Modified", lm), false, ""},
		{"If-None-Match match wins over a failing If-Modified-Since", hdr("If-None-Match", `"a"`, "If-Modified-Since", httpDate(t0.Add(-time.Hour))),
			hdr("Etag", `"a"`, "Last-Modified", lm), true, ""},
		// §13.1.3: not modified when Last-Modified <= If-Modified-Since.
		{"modified before the date", hdr("If-Modified-Since", httpDate(t0.Add(time.Hour))), hdr("Last-Modified", lm), true, ""},
		{"modified at the date", hdr("If-Modified-Since", lm), hdr("Last-Modified", lm), true, ""},
		{"modified after the date", hdr("If-Modified-Since", httpDate(t0.Add(-time.Second))), hdr("Last-Modified", lm), false, ""},
		{"date formats compare as times", hdr("If-Modified-Since", "Friday, 01-Mar-24 12:00:00 GMT"), hdr("Last-Modified", lm), true, ""},
		{"invalid If-Modified-Since is ignored", hdr("If-Modified-Since", "yesterday"), hdr("Last-Modified", lm), false, ""},
		{"invalid stored Last-Modified", hdr("If-Modified-Since", lm), hdr("Last-Modified", "junk"), false, ""},
		{"no conditionals", hdr(), hdr("Etag", `"a"`, "Last-Modified", lm), false, ""},
		// RFC 9111 §4.3.2: without Last-Modified, a cache SHOULD use the stored Date.
		{"If-Modified-Since against the stored Date", hdr("If-Modified-Since", httpDate(t0.Add(time.Hour))), hdr("Date", lm), true, ""},
		{"stored Date after If-Modified-Since", hdr("If-Modified-Since", httpDate(t0.Add(-time.Hour))), hdr("Date", lm), false, ""},
		{"Last-Modified preferred over Date", hdr("If-Modified-Since", httpDate(t0.Add(-time.Hour))),
			hdr("Last-Modified", httpDate(t0.Add(-2*time.Hour)), "Date", lm), true, ""},
		// §4.3.2: with neither, the time the stored response was received.
		{"neither Last-Modified nor Date: received after the date", hdr("If-Modified-Since", lm), hdr("Etag", `"a"`), false, ""},
		{"neither Last-Modified nor Date: received before the date", hdr("If-Modified-Since", httpDate(received.Add(time.Second))), hdr("Etag", `"a"`), true, ""},
		{"neither Last-Modified nor Date: received at the date", hdr("If-Modified-Since", httpDate(received)), hdr(), true, ""},
		{"invalid Date falls back to the received time", hdr("If-Modified-Since", httpDate(received)), hdr("Date", "yesterday"), true, ""},
		{"invalid Last-Modified falls back to Date", hdr("If-Modified-Since", lm), hdr("Last-Modified", "junk", "Date", lm), true, ""},
		// RFC 9110 §5.6.7: If-Modified-Since is an HTTP-date by the same grammar.
		{"If-Modified-Since off the grammar is ignored", hdr("If-Modified-Since", "Fri, 01 Mar 2024 12:00:00 UTC"), hdr("Last-Modified", lm), false, ""},
		{"If-Modified-Since in asctime form", hdr("If-Modified-Since", "Fri Mar  1 12:00:00 2024"), hdr("Last-Modified", lm), true, ""},
		{"two If-Modified-Since lines are invalid", hdr("If-Modified-Since", lm, "If-Modified-Since", lm), hdr("Last-Modified", lm), false, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := NotModified(tt.req, tt.stored, received)
			verdict(t, tt.bug, got == tt.want, "NotModified(%q, %q) = %v, want %v", tt.req, tt.stored, got, tt.want)
		})
	}
}

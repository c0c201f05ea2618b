package policy

import (
	"net/http"
	"testing"
	"time"
)

func TestHeadMatches(t *testing.T) {
	lm := httpDate(t0)
	stored := hdr("Etag", `"a"`, "Last-Modified", lm, "Content-Length", "5", "Content-Type", "text/plain")
	tests := []struct {
		name   string
		stored http.Header
		head   http.Header
		want   bool
	}{
		// RFC 9111 §4.3.5: update when the received validators and Content-Length match.
		{"same validators and length", stored, hdr("Etag", `"a"`, "Last-Modified", lm, "Content-Length", "5"), true},
		{"no validators, no length", stored, hdr("Cache-Control", "max-age=60"), true},
		{"no validators, same length", stored, hdr("Content-Length", "5"), true},
		{"only ETag, matching", stored, hdr("Etag", `"a"`), true},
		{"only Last-Modified, matching", stored, hdr("Last-Modified", lm), true},
		{"Last-Modified compared as a date", stored, hdr("Last-Modified", "Friday, 01-Mar-24 12:00:00 GMT"), true},
		{"weak ETag equal to the stored one", hdr("Etag", `W/"a"`), hdr("Etag", `W/"a"`), true},
		{"validators only on the stored side", stored, hdr("X-Other", "1"), true},
		{"nothing stored, nothing received", hdr(), hdr(), true},
		// §4.3.5: otherwise the stored response is to be considered stale.
		{"different ETag", stored, hdr("Etag", `"b"`, "Content-Length", "5"), false},
		{"ETag where none is stored", hdr("Content-Length", "5"), hdr("Etag", `"a"`), false},
		{"weak ETag against the strong one", stored, hdr("Etag", `W/"a"`), false},
		{"newer Last-Modified", stored, hdr("Last-Modified", httpDate(t0.Add(time.Second))), false},
		{"Last-Modified where none is stored", hdr("Etag", `"a"`), hdr("Last-Modified", lm), false},
		{"invalid Last-Modified", stored, hdr("Last-Modified", "yesterday"), false},
		{"different Content-Length", stored, hdr("Etag", `"a"`, "Content-Length", "6"), false},
		{"two Content-Length lines", stored, hdr("Content-Length", "5", "Content-Length", "5"), false},
		{"two ETag lines", stored, hdr("Etag", `"a"`, "Etag", `"a"`), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := HeadMatches(tt.stored, tt.head, t0); got != tt.want {
				t.Errorf("HeadMatches(%q, %q) = %v, want %v", tt.stored, tt.head, got, tt.want)
			}
		})
	}
}

package proxy

import (
	"io"
	"net/http"
	"testing"
	"time"
)

// RFC 9111 §4.3.2: without Last-Modified, If-Modified-Since is compared with the stored
// Date, or without a Date with the time the response was received.
func TestIfModifiedSinceWithoutLastModified(t *testing.T) {
	for _, withDate := range []bool{true, false} {
		name := "against Date"
		if !withDate {
			name = "against the time received"
		}
		t.Run(name, func(t *testing.T) {
			date := time.Now().Add(-time.Hour).UTC().Truncate(time.Second)
			o := newOrigin(t, func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Cache-Control", "max-age=7200") // fresh despite the Date an hour ago
				if withDate {
					w.Header().Set("Date", date.Format(http.TimeFormat))
				} else {
					w.Header()["Date"] = nil // net/http adds none
				}
				io.WriteString(w, "payload")
			})
			p := newTestProxy(t, o.URL)
			p.get(t, "/x")
			modified := date // the stored response's Date
			if !withDate {
				modified = time.Now() // about when it was received
			}
			tests := []struct {
				ims  time.Time
				want int
			}{
				{modified.Add(time.Minute), http.StatusNotModified},
				{modified.Add(-2 * time.Minute), http.StatusOK},
			}
			for _, tt := range tests {
				resp, body := p.get(t, "/x", "If-Modified-Since", tt.ims.UTC().Format(http.TimeFormat))
				if resp.StatusCode != tt.want {
					t.Errorf("If-Modified-Since %v (stored modified %v) = %d %q, want %d", tt.ims, modified, resp.StatusCode, body, tt.want)
				}
				wantStatus(t, resp, "HIT", "hit")
			}
			if got := o.calls.Load(); got != 1 {
				t.Errorf("origin saw %d requests, want 1", got)
			}
		})
	}
}

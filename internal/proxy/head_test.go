package proxy

import (
	"io"
	"net/http"
	"testing"
)

// RFC 9111 §4.3.5: a 200 to a HEAD the cache forwarded updates the stored GET response
// when validators and Content-Length agree, and makes it stale when they differ.
func TestHeadUpdatesStoredGet(t *testing.T) {
	const lm = "Fri, 01 Mar 2024 12:00:00 GMT"
	tests := []struct {
		name    string
		stored  map[string]string // GET response fields besides max-age=600
		head    map[string]string // HEAD response fields
		updated bool
	}{
		{"same ETag and length", map[string]string{"Etag": `"v1"`}, map[string]string{"Etag": `"v1"`, "Content-Length": "7"}, true},
		{"no validators on either side", nil, map[string]string{"Content-Length": "7"}, true},
		{"same Last-Modified, no length", map[string]string{"Last-Modified": lm}, map[string]string{"Last-Modified": lm}, true},
		{"different ETag", map[string]string{"Etag": `"v1"`}, map[string]string{"Etag": `"v2"`, "Content-Length": "7"}, false},
		{"different Content-Length", map[string]string{"Etag": `"v1"`}, map[string]string{"Etag": `"v1"`, "Content-Length": "8"}, false},
		{"newer Last-Modified", map[string]string{"Last-Modified": lm}, map[string]string{"Last-Modified": "Fri, 01 Mar 2024 12:00:01 GMT"}, false},
		{"ETag where none was stored", nil, map[string]string{"Etag": `"v1"`}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := newOrigin(t, func(w http.ResponseWriter, r *http.Request) {
				if r.Method == http.MethodHead {
					// An origin that answers HEAD in full, whatever the conditionals.
					for k, v := range tt.head {
						w.Header().Set(k, v)
					}
					w.Header().Set("Cache-Control", "max-age=900")
					w.Header().Set("X-Version", "2")
					return
				}
				for k, v := range tt.stored {
					w.Header().Set(k, v)
				}
				w.Header().Set("Cache-Control", "max-age=600")
				w.Header().Set("X-Version", "1")
				w.Header().Set("X-Stored-Only", "kept")
				if r.Header.Get("If-None-Match") != "" || r.Header.Get("If-Modified-Since") != "" {
					w.WriteHeader(http.StatusNotModified)
					return
				}
				io.WriteString(w, "body v1")
			})
			p := newTestProxy(t, o.URL)
			p.get(t, "/doc")

			// The stored GET is fresh; the client's no-cache sends the HEAD to the origin.
			resp, body := p.do(t, http.MethodHead, "/doc", http.Header{"Cache-Control": {"no-cache"}})
			if body != "" || resp.StatusCode != http.StatusOK {
				t.Fatalf("HEAD = %d with body %q, want 200 and none", resp.StatusCode, body)
			}
			if got := o.calls.Load(); got != 2 {
				t.Fatalf("origin saw %d requests after the HEAD, want 2", got)
			}
			if tt.updated {
				// Answered from the updated entry: stored fields the HEAD lacked stay (§3.2).
				wantStatus(t, resp, "HIT", "fwd=request; fwd-status=200; detail=head-update")
				if resp.Header.Get("X-Version") != "2" || resp.Header.Get("X-Stored-Only") != "kept" {
					t.Errorf("HEAD answer X-Version %q, X-Stored-Only %q; want 2 and kept", resp.Header.Get("X-Version"), resp.Header.Get("X-Stored-Only"))
				}
			} else {
				wantStatus(t, resp, "MISS", "fwd=request; fwd-status=200")
			}

			resp, body = p.get(t, "/doc")
			switch {
			case tt.updated:
				// The stored GET took the HEAD's fields: X-Version 2, max-age=900.
				wantStatus(t, resp, "HIT", "hit")
				if body != "body v1" || resp.Header.Get("X-Version") != "2" || resp.Header.Get("Cache-Control") != "max-age=900" {
					t.Errorf("GET after HEAD: body %q, X-Version %q, Cache-Control %q; want the stored body, 2, max-age=900",
						body, resp.Header.Get("X-Version"), resp.Header.Get("Cache-Control"))
				}
				if got := o.calls.Load(); got != 2 {
					t.Errorf("origin saw %d requests, want 2 (GET answered from the updated entry)", got)
				}
			default:
				// The stored body is not the current one: the once fresh GET must ask the origin.
				if got := o.calls.Load(); got != 3 {
					t.Errorf("origin saw %d requests, want 3 (stored GET made stale by the HEAD)", got)
				}
				if resp.Header.Get("X-Cache") == "HIT" && resp.Header.Get("Cache-Status") == "caching-proxy; hit" {
					t.Errorf("GET after HEAD served as a fresh hit: %q", resp.Header.Get("Cache-Status"))
				}
			}
		})
	}
}

// A HEAD miss is forwarded and not stored: only a stored GET can answer a later GET.
func TestHeadWithoutStoredGetIsNotStored(t *testing.T) {
	o := newOrigin(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		if r.Method == http.MethodGet {
			io.WriteString(w, "body")
		}
	})
	p := newTestProxy(t, o.URL)
	p.do(t, http.MethodHead, "/x", nil)
	resp, body := p.get(t, "/x")
	wantStatus(t, resp, "MISS", "fwd=miss")
	if body != "body" || o.calls.Load() != 2 {
		t.Errorf("GET after a HEAD miss: body %q, origin calls %d; want %q and 2", body, o.calls.Load(), "body")
	}
}

package proxy

import (
	"net/http"
	"testing"

	"github.com/caching-proxy/caching-proxy/internal/policy"
)

func TestSharedCompressible(t *testing.T) {
	tests := []struct {
		name   string
		header http.Header
		want   bool
	}{
		{"JSON", http.Header{"Content-Type": {"application/json; charset=utf-8"}}, true},
		{"HTML", http.Header{"Content-Type": {"text/html"}}, true},
		{"SVG is text", http.Header{"Content-Type": {"image/svg+xml"}}, true},
		{"no type: the tier keeps it raw unless it shrinks", http.Header{}, true},
		{"identity is no encoding", http.Header{"Content-Type": {"text/css"}, "Content-Encoding": {"identity"}}, true},
		{"gzip-encoded", http.Header{"Content-Type": {"application/json"}, "Content-Encoding": {"gzip"}}, false},
		{"br-encoded", http.Header{"Content-Type": {"text/html"}, "Content-Encoding": {"br"}}, false},
		{"JPEG", http.Header{"Content-Type": {"image/jpeg"}}, false},
		{"WebP", http.Header{"Content-Type": {"image/webp"}}, false},
		{"video", http.Header{"Content-Type": {"video/mp4"}}, false},
		{"audio", http.Header{"Content-Type": {"audio/mpeg"}}, false},
		{"zip", http.Header{"Content-Type": {"application/zip"}}, false},
		{"gzip file", http.Header{"Content-Type": {"application/gzip"}}, false},
		{"WOFF2", http.Header{"Content-Type": {"font/woff2"}}, false},
		{"TTF is not compressed", http.Header{"Content-Type": {"font/ttf"}}, true},
	}
	for _, tt := range tests {
		e := newEntry("", http.StatusOK, tt.header, nil, policy.Freshness{}, nil)
		if got := e.sharedCompressible(); got != tt.want {
			t.Errorf("%s: sharedCompressible() = %v, want %v", tt.name, got, tt.want)
		}
	}
}

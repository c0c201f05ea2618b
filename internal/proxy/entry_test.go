package proxy

import (
	"net/http"
	"testing"
	"time"

	"github.com/caching-proxy/caching-proxy/internal/policy"
)

func TestRetention(t *testing.T) {
	now := time.Now()
	tests := []struct {
		name   string
		fresh  policy.Freshness
		header http.Header
		want   time.Duration
	}{
		{"fresh minute, servable stale for a while", policy.Freshness{Lifetime: time.Minute, Received: now}, nil, time.Minute + staleKeep},
		{"validators keep it a day", policy.Freshness{Lifetime: time.Minute, Received: now}, http.Header{"Etag": {`"a"`}}, time.Minute + revalidationWindow},
		{"must-revalidate without validators goes when stale", policy.Freshness{Lifetime: time.Minute, Received: now, MustRevalidate: true}, nil, time.Minute},
		{"far-future lifetime does not overflow", policy.Freshness{Lifetime: time.Duration(1<<63 - 1), Received: now}, nil, maxRetention},
		{"stale-if-error window", policy.Freshness{Lifetime: 0, Received: now, StaleIfError: time.Hour}, nil, time.Hour},
	}
	for _, tt := range tests {
		e := newEntry("", http.StatusOK, tt.header, nil, tt.fresh, nil)
		if got := e.retention(now, 0); got != tt.want {
			t.Errorf("%s: retention = %v, want %v", tt.name, got, tt.want)
		}
	}
}

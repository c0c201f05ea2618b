package admin

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

type countingClearer struct{ calls int }

func (c *countingClearer) Clear() Cleared { c.calls++; return Cleared{Entries: 3, Bytes: 300} }

func TestHandler(t *testing.T) {
	tests := []struct {
		name       string
		token      string
		method     string
		path       string
		auth       string
		wantStatus int
		wantClears int
		wantBody   string
	}{
		{"health", "", "GET", "/healthz", "", 200, 0, "ok"},
		{"metrics", "", "GET", "/metrics", "", 200, 0, "go_goroutines"},
		{"clear without token configured", "", "POST", "/cache/clear", "", 200, 1, `"entries":3`},
		{"clear needs POST", "", "GET", "/cache/clear", "", 405, 0, ""},
		{"clear without token", "s3cret", "POST", "/cache/clear", "", 401, 0, ""},
		{"clear with wrong token", "s3cret", "POST", "/cache/clear", "Bearer nope", 401, 0, ""},
		{"clear with token", "s3cret", "POST", "/cache/clear", "Bearer s3cret", 200, 1, `"bytes":300`},
		{"health never needs the token", "s3cret", "GET", "/healthz", "", 200, 0, "ok"},
		{"unknown path", "", "GET", "/nope", "", 404, 0, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			reg := prometheus.NewRegistry()
			reg.MustRegister(prometheus.NewGoCollector())
			c := &countingClearer{}
			srv := httptest.NewServer(Handler(c, reg, Options{Token: tt.token}))
			defer srv.Close()
			req, _ := http.NewRequest(tt.method, srv.URL+tt.path, nil)
			if tt.auth != "" {
				req.Header.Set("Authorization", tt.auth)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var body strings.Builder
			_, _ = io.Copy(&body, resp.Body)
			if resp.StatusCode != tt.wantStatus {
				t.Errorf("status = %d, want %d", resp.StatusCode, tt.wantStatus)
			}
			if c.calls != tt.wantClears {
				t.Errorf("Clear calls = %d, want %d", c.calls, tt.wantClears)
			}
			if !strings.Contains(body.String(), tt.wantBody) {
				t.Errorf("body = %q, want it to contain %q", body.String(), tt.wantBody)
			}
		})
	}
}

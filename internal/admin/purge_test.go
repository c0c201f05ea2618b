package admin

import (
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

type recordingPurger struct {
	got []PurgeRequest
	err error
}

func (p *recordingPurger) Purge(r PurgeRequest) (Purged, error) {
	if p.err != nil {
		return Purged{}, p.err
	}
	p.got = append(p.got, r)
	return Purged{Entries: 2, Bytes: 2048}, nil
}

func TestPurge(t *testing.T) {
	tests := []struct {
		name       string
		token      string
		method     string
		path       string
		header     http.Header
		body       string
		purgerErr  error
		wantStatus int
		want       *PurgeRequest // what reached the Purger; nil: nothing
		wantBody   string
	}{
		{"urls prefixes tags", "", "POST", "/cache/purge", nil, `{"urls":["/a?x=1"],"prefixes":["/v1/"],"tags":["t"],"soft":true}`, nil,
			200, &PurgeRequest{URLs: []string{"/a?x=1"}, Prefixes: []string{"/v1/"}, Tags: []string{"t"}, Soft: true}, `{"entries":2,"bytes":2048}`},
		{"tags only", "", "POST", "/cache/purge", nil, `{"tags":["a","b"]}`, nil, 200, &PurgeRequest{Tags: []string{"a", "b"}}, `"entries":2`},
		{"needs POST", "", "GET", "/cache/purge", nil, "", nil, 405, nil, ""},
		{"token required", "s3cret", "POST", "/cache/purge", nil, `{"tags":["a"]}`, nil, 401, nil, ""},
		{"token given", "s3cret", "POST", "/cache/purge", http.Header{"Authorization": {"Bearer s3cret"}}, `{"tags":["a"]}`, nil, 200, &PurgeRequest{Tags: []string{"a"}}, ""},
		{"empty body", "", "POST", "/cache/purge", nil, ``, nil, 400, nil, "body is empty"},
		{"not JSON", "", "POST", "/cache/purge", nil, `tags=a`, nil, 400, nil, "not the JSON expected"},
		{"unknown field", "", "POST", "/cache/purge", nil, `{"tag":["a"]}`, nil, 400, nil, `unknown field "tag"`},
		{"soft not a bool", "", "POST", "/cache/purge", nil, `{"tags":["a"],"soft":"yes"}`, nil, 400, nil, "soft: want true or false"},
		{"tags not strings", "", "POST", "/cache/purge", nil, `{"tags":[1]}`, nil, 400, nil, "tags"},
		{"two values", "", "POST", "/cache/purge", nil, `{"tags":["a"]}{"tags":["b"]}`, nil, 400, nil, "more than one JSON value"},
		{"nothing named", "", "POST", "/cache/purge", nil, `{"soft":true}`, nil, 400, nil, "nothing to purge"},
		{"empty tag", "", "POST", "/cache/purge", nil, `{"tags":["a",""]}`, nil, 400, nil, "tags[1] is empty"},
		{"prefix not a path", "", "POST", "/cache/purge", nil, `{"prefixes":["v1/"]}`, nil, 400, nil, "prefixes[0]"},
		{"purger refuses", "", "POST", "/cache/purge", nil, `{"urls":["ftp://x"]}`, Invalid("urls[0] %q: not a path", "ftp://x"), 400, nil, `urls[0] "ftp://x": not a path`},
		{"PURGE a path", "", "PURGE", "/a/b?x=1", nil, "", nil, 200, &PurgeRequest{URLs: []string{"/a/b?x=1"}}, `"entries":2`},
		{"PURGE soft", "", "PURGE", "/a", http.Header{"Fastly-Soft-Purge": {"1"}}, "", nil, 200, &PurgeRequest{URLs: []string{"/a"}, Soft: true}, ""},
		{"PURGE / with Surrogate-Key", "", "PURGE", "/", http.Header{"Surrogate-Key": {"a  b"}}, "", nil, 200, &PurgeRequest{Tags: []string{"a", "b"}}, ""},
		{"PURGE / with xkey-purge", "", "PURGE", "/", http.Header{"Xkey-Purge": {"p-1 p-2"}}, "", nil, 200, &PurgeRequest{Tags: []string{"p-1", "p-2"}}, ""},
		{"PURGE / with xkey-softpurge", "", "PURGE", "/", http.Header{"Xkey-Softpurge": {"p-1"}}, "", nil, 200, &PurgeRequest{Tags: []string{"p-1"}, Soft: true}, ""},
		{"PURGE with an empty tag header", "", "PURGE", "/", http.Header{"Xkey-Purge": {" "}}, "", nil, 400, nil, "names no tag"},
		{"PURGE needs the token", "s3cret", "PURGE", "/a", nil, "", nil, 401, nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := &recordingPurger{err: tt.purgerErr}
			srv := httptest.NewServer(Handler(&countingClearer{}, prometheus.NewRegistry(), Options{Token: tt.token, Purger: p}))
			defer srv.Close()
			req, _ := http.NewRequest(tt.method, srv.URL+tt.path, strings.NewReader(tt.body))
			for k, v := range tt.header {
				req.Header[k] = v
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tt.wantStatus {
				t.Errorf("status = %d (%q), want %d", resp.StatusCode, b, tt.wantStatus)
			}
			if !strings.Contains(string(b), tt.wantBody) {
				t.Errorf("body = %q, want it to contain %q", b, tt.wantBody)
			}
			switch {
			case tt.want == nil && len(p.got) > 0:
				t.Errorf("Purge called with %+v, want no call", p.got)
			case tt.want != nil && (len(p.got) != 1 || !reflect.DeepEqual(p.got[0], *tt.want)):
				t.Errorf("Purge calls = %+v, want one with %+v", p.got, *tt.want)
			}
		})
	}
}

func TestNoPurgeWithoutPurger(t *testing.T) {
	srv := httptest.NewServer(Handler(&countingClearer{}, prometheus.NewRegistry(), Options{}))
	defer srv.Close()
	resp, err := http.Post(srv.URL+"/cache/purge", "application/json", strings.NewReader(`{"tags":["a"]}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound && resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("status = %d, want 404 or 405 without a Purger", resp.StatusCode)
	}
}

// TestPprofBesidePurge: with --pprof, the profiling endpoints and PURGE share the
// mux (patterns that overlap without one being more specific make ServeMux panic).
func TestPprofBesidePurge(t *testing.T) {
	p := &recordingPurger{}
	srv := httptest.NewServer(Handler(&countingClearer{}, prometheus.NewRegistry(), Options{Purger: p, Pprof: true}))
	defer srv.Close()
	for _, tt := range []struct {
		method, path string
		want         int
	}{
		{"GET", "/debug/pprof/", 200},
		{"GET", "/debug/pprof/heap", 200},
		{"POST", "/debug/pprof/symbol", 200},
		{"PURGE", "/a", 200},
		{"PURGE", "/debug/pprof/x", 200}, // a URL to purge like any other
	} {
		req, _ := http.NewRequest(tt.method, srv.URL+tt.path, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tt.want {
			t.Errorf("%s %s = %d, want %d", tt.method, tt.path, resp.StatusCode, tt.want)
		}
	}
}

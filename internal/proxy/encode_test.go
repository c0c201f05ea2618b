package proxy

import (
	"bytes"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/caching-proxy/caching-proxy/internal/compress"
	"github.com/caching-proxy/caching-proxy/internal/policy"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// page is an identity body worth compressing.
var page = []byte(strings.Repeat("<li>caching-proxy stores one copy and serves every coding</li>\n", 300))

func withCompression(o *Options) {
	types, err := compress.ParseTypes([]string{"text/*", "application/json"})
	if err != nil {
		panic(err)
	}
	o.Compression = &Compression{Types: types, MinSize: 1024}
}

// raw sends a request exactly as given: no Accept-Encoding added, nothing decoded.
func (p *testProxy) raw(t *testing.T, method, path string, kv ...string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, p.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(kv); i += 2 {
		req.Header.Add(kv[i], kv[i+1])
	}
	// The proxy's own client (HTTP/1.1, or HTTP/2 over TLS in the -h2 run), without
	// the transparent gzip a Transport adds.
	tr := p.Client().Transport.(*http.Transport).Clone()
	tr.DisableCompression = true
	c := &http.Client{Transport: tr}
	t.Cleanup(c.CloseIdleConnections)
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	return resp, body
}

func decodeAs(t *testing.T, coding string, b []byte) []byte {
	t.Helper()
	if coding == "" {
		return b
	}
	out, err := compress.New().Decode(coding, b, 64<<20)
	if err != nil {
		t.Fatalf("body does not decode as %s: %v", coding, err)
	}
	return out
}

func hasVaryAE(resp *http.Response) bool {
	for _, line := range resp.Header.Values("Vary") {
		for _, n := range strings.Split(line, ",") {
			if strings.EqualFold(strings.TrimSpace(n), "Accept-Encoding") {
				return true
			}
		}
	}
	return false
}

func identityOrigin(t *testing.T, cc, contentType string, body []byte) *origin {
	return newOrigin(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", cc)
		w.Header().Set("Content-Type", contentType)
		w.Header().Set("ETag", `"v1"`)
		w.Write(body)
	})
}

// One identity response from the origin; each client gets the best coding it accepts,
// decoding to the origin's bytes, with Vary, the right length and a weak ETag.
func TestOneCopyServedInEveryCoding(t *testing.T) {
	o := identityOrigin(t, "max-age=60", "text/html; charset=utf-8", page)
	p := newTestProxy(t, o.URL, withCompression)

	resp, body := p.raw(t, "GET", "/page")
	wantStatus(t, resp, "MISS", "fwd=miss; stored")
	if !bytes.Equal(body, page) || resp.Header.Get("Content-Encoding") != "" {
		t.Fatalf("miss without Accept-Encoding: %d bytes, Content-Encoding %q; want the origin's identity bytes", len(body), resp.Header.Get("Content-Encoding"))
	}
	if !hasVaryAE(resp) {
		t.Errorf("miss of a response served in several codings: Vary = %q, want Accept-Encoding", resp.Header.Values("Vary"))
	}
	sizes := map[string]int{}
	for _, tt := range []struct{ client, ae, want string }{
		{"gzip only", "gzip", "gzip"},
		{"br only", "br", "br"},
		{"zstd only", "zstd", "zstd"},
		{"Chrome", "gzip, deflate, br, zstd", "zstd"},
		{"Safari", "gzip, deflate, br", "br"},
		{"curl --compressed", "deflate, gzip, br, zstd", "zstd"},
		{"prefers gzip by weight", "br;q=0.5, gzip", "gzip"},
		{"no Accept-Encoding", "", ""},
		{"identity only", "identity", ""},
		{"deflate only", "deflate", ""},
	} {
		t.Run(tt.client, func(t *testing.T) {
			var kv []string
			if tt.ae != "" {
				kv = []string{"Accept-Encoding", tt.ae}
			}
			resp, body := p.raw(t, "GET", "/page", kv...)
			wantStatus(t, resp, "HIT", "hit")
			if got := resp.Header.Get("Content-Encoding"); got != tt.want {
				t.Fatalf("Content-Encoding = %q, want %q", got, tt.want)
			}
			if got := decodeAs(t, tt.want, body); !bytes.Equal(got, page) {
				t.Fatalf("body decodes to %d bytes, want the origin's %d", len(got), len(page))
			}
			if cl := resp.Header.Get("Content-Length"); cl != strconv.Itoa(len(body)) {
				t.Errorf("Content-Length = %q for %d bytes", cl, len(body))
			}
			wantETag := `W/"v1"`
			if tt.want == "" {
				wantETag = `"v1"` // the origin's own bytes keep their strong validator
			} else if len(body) >= len(page)/4 {
				t.Errorf("%s body is %d bytes of %d: not compressed", tt.want, len(body), len(page))
			}
			if got := resp.Header.Get("Etag"); got != wantETag {
				t.Errorf("ETag = %q, want %q (RFC 9110 §8.8.1)", got, wantETag)
			}
			if !hasVaryAE(resp) {
				t.Errorf("Vary = %q, want Accept-Encoding", resp.Header.Values("Vary"))
			}
			// HEAD answers match GET's (RFC 9110 §9.3.2).
			head, hb := p.raw(t, "HEAD", "/page", kv...)
			for _, f := range []string{"Content-Encoding", "Content-Length", "Etag", "Vary", "Content-Type"} {
				if head.Header.Get(f) != resp.Header.Get(f) {
					t.Errorf("HEAD %s = %q, GET's %q", f, head.Header.Get(f), resp.Header.Get(f))
				}
			}
			if len(hb) != 0 {
				t.Errorf("HEAD has a %d-byte body", len(hb))
			}
			sizes[tt.want] = len(body)
		})
	}
	if got := o.calls.Load(); got != 1 {
		t.Errorf("origin saw %d requests, want 1", got)
	}

	// The store's budget counts every copy (and each representation's header).
	p.h.store.Wait()
	if got, min := p.h.store.Stats().Bytes, int64(len(page)+sizes["gzip"]+sizes["br"]+sizes["zstd"]); got < min {
		t.Errorf("store holds %d bytes, fewer than the identity body and its three copies (%d)", got, min)
	}
	// Bytes served by coding, and the compression ratio.
	if n := testutil.ToFloat64(p.h.m.ServedCounter("br")); n < float64(sizes["br"]) {
		t.Errorf("served br bytes = %v, want at least %d", n, sizes["br"])
	}
	if err := testutil.GatherAndCompare(p.reg, strings.NewReader(`
# HELP caching_proxy_compress_input_bytes_total Identity bytes compressed into stored copies, by the coding they were compressed to.
# TYPE caching_proxy_compress_input_bytes_total counter
caching_proxy_compress_input_bytes_total{encoding="br"} `+strconv.Itoa(len(page))+`
caching_proxy_compress_input_bytes_total{encoding="gzip"} `+strconv.Itoa(len(page))+`
caching_proxy_compress_input_bytes_total{encoding="zstd"} `+strconv.Itoa(len(page))+`
`), "caching_proxy_compress_input_bytes_total"); err != nil {
		t.Errorf("each coding compressed once: %v", err)
	}
	if problems, err := testutil.GatherAndLint(p.reg); err != nil || len(problems) > 0 {
		t.Errorf("metrics lint: %v %v", problems, err)
	}
}

// A conditional request names the stored response by either form of its ETag; the
// 304 carries the validator of the representation the client would have got.
func TestConditionalAgainstWeakETag(t *testing.T) {
	o := identityOrigin(t, "max-age=60", "application/json", page)
	p := newTestProxy(t, o.URL, withCompression)
	p.raw(t, "GET", "/data")
	for _, tt := range []struct{ ae, inm, wantETag string }{
		{"br", `W/"v1"`, `W/"v1"`},
		{"br", `"v1"`, `W/"v1"`},
		{"gzip", `W/"other", W/"v1"`, `W/"v1"`},
		{"", `W/"v1"`, `"v1"`},
		{"zstd", `*`, `W/"v1"`},
	} {
		resp, body := p.raw(t, "GET", "/data", "Accept-Encoding", tt.ae, "If-None-Match", tt.inm)
		if resp.StatusCode != http.StatusNotModified || len(body) != 0 {
			t.Errorf("AE %q, If-None-Match %s: status %d, %d body bytes; want 304, none", tt.ae, tt.inm, resp.StatusCode, len(body))
		}
		if got := resp.Header.Get("Etag"); got != tt.wantETag {
			t.Errorf("AE %q, If-None-Match %s: 304 ETag = %q, want %q", tt.ae, tt.inm, got, tt.wantETag)
		}
	}
	resp, body := p.raw(t, "GET", "/data", "Accept-Encoding", "br", "If-None-Match", `"v0"`)
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Encoding") != "br" || !bytes.Equal(decodeAs(t, "br", body), page) {
		t.Errorf("non-matching If-None-Match: status %d, coding %q; want 200 br", resp.StatusCode, resp.Header.Get("Content-Encoding"))
	}
	// A client whose first request is conditional is answered from the stored entry too.
	resp, _ = p.raw(t, "GET", "/data?fresh", "Accept-Encoding", "gzip", "If-None-Match", `W/"v1"`)
	if resp.StatusCode != http.StatusNotModified {
		t.Errorf("conditional miss: status %d, want 304", resp.StatusCode)
	}
	if got := o.calls.Load(); got != 2 {
		t.Errorf("origin saw %d requests, want 2", got)
	}
}

// Ranges are answered on the identity bytes, never on a copy the proxy made.
func TestRangeIsServedOnIdentity(t *testing.T) {
	o := identityOrigin(t, "max-age=60", "text/plain", page)
	p := newTestProxy(t, o.URL, withCompression)
	p.raw(t, "GET", "/r")
	resp, body := p.raw(t, "GET", "/r", "Accept-Encoding", "gzip, br, zstd", "Range", "bytes=10-19")
	if resp.StatusCode != http.StatusPartialContent || resp.Header.Get("Content-Encoding") != "" || !bytes.Equal(body, page[10:20]) {
		t.Fatalf("Range: status %d, coding %q, body %q; want 206 of identity bytes %q", resp.StatusCode, resp.Header.Get("Content-Encoding"), body, page[10:20])
	}
	if got := resp.Header.Get("Content-Range"); got != "bytes 10-19/"+strconv.Itoa(len(page)) {
		t.Errorf("Content-Range = %q", got)
	}
	// If-Range with the strong ETag names the identity bytes.
	resp, _ = p.raw(t, "GET", "/r", "Accept-Encoding", "br", "Range", "bytes=0-0", "If-Range", `"v1"`)
	if resp.StatusCode != http.StatusPartialContent {
		t.Errorf("If-Range with the strong ETag: status %d, want 206", resp.StatusCode)
	}
}

// An origin that sends only gzip: a client that does not accept gzip gets identity
// bytes, on the miss and on hits; one that does gets the origin's bytes as sent.
func TestGzipOriginDecodedForClientsWithoutGzip(t *testing.T) {
	gz, err := compress.New().Encode("gzip", page)
	if err != nil {
		t.Fatal(err)
	}
	for _, vary := range []string{"", "Accept-Encoding"} {
		t.Run("Vary="+vary, func(t *testing.T) {
			o := newOrigin(t, func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Cache-Control", "max-age=60")
				w.Header().Set("Content-Type", "text/html")
				w.Header().Set("Content-Encoding", "gzip")
				w.Header().Set("ETag", `"g1"`)
				if vary != "" {
					w.Header().Set("Vary", vary)
				}
				w.Write(gz)
			})
			p := newTestProxy(t, o.URL, withCompression)
			// Each client asks twice: a miss is relayed as it streams (decoded when
			// the client cannot read gzip), a hit is served from the stored copies.
			for i, tt := range []struct {
				ae, miss, hit string
			}{
				{"", "", ""},
				{"identity", "", ""},
				{"gzip, deflate", "gzip", "gzip"},
				{"br", "", ""}, // no copies are made of what the origin compressed: identity
				{"gzip, br, zstd", "gzip", "gzip"},
			} {
				var kv []string
				if tt.ae != "" {
					kv = []string{"Accept-Encoding", tt.ae}
				}
				for round := range 2 {
					resp, body := p.raw(t, "GET", "/gz", kv...)
					want := tt.hit
					if resp.Header.Get("X-Cache") == "MISS" {
						if round == 1 {
							t.Errorf("%d: AE %q: second request missed", i, tt.ae)
						}
						want = tt.miss
					}
					if got := resp.Header.Get("Content-Encoding"); got != want {
						t.Fatalf("%d: AE %q, %s: Content-Encoding %q, want %q", i, tt.ae, resp.Header.Get("X-Cache"), got, want)
					}
					if got := decodeAs(t, want, body); !bytes.Equal(got, page) {
						t.Fatalf("%d: AE %q: %d bytes decode to %d, want the %d the origin compressed", i, tt.ae, len(body), len(got), len(page))
					}
					if want == "gzip" && !bytes.Equal(body, gz) {
						t.Errorf("%d: a gzip client gets other bytes than the origin's gzip", i)
					}
					wantETag := `W/"g1"`
					if want == "gzip" {
						wantETag = `"g1"`
					}
					if got := resp.Header.Get("Etag"); got != wantETag {
						t.Errorf("%d: AE %q: ETag %q, want %q", i, tt.ae, got, wantETag)
					}
					if !hasVaryAE(resp) {
						t.Errorf("%d: AE %q: Vary = %q, want Accept-Encoding", i, tt.ae, resp.Header.Values("Vary"))
					}
				}
			}
			for _, inm := range []string{`"g1"`, `W/"g1"`} {
				resp, _ := p.raw(t, "GET", "/gz", "If-None-Match", inm)
				if resp.StatusCode != http.StatusNotModified || resp.Header.Get("Etag") != `W/"g1"` {
					t.Errorf("client without gzip, If-None-Match %s: %d, ETag %q; want 304, W/\"g1\"", inm, resp.StatusCode, resp.Header.Get("Etag"))
				}
			}
			if p.h.store.Wait(); vary == "" && p.h.store.Stats().Bytes >= int64(len(page)) {
				t.Errorf("store holds %d bytes for %d of gzip: a decoded copy of %d is kept", p.h.store.Stats().Bytes, len(gz), len(page))
			}
			want := int64(1)
			if vary != "" {
				want = 5 // one variant per Accept-Encoding set
			}
			if got := o.calls.Load(); got != want {
				t.Errorf("origin saw %d requests, want %d", got, want)
			}
		})
	}
}

// Cache-Control: no-transform, in the response or the request, leaves the bytes as
// the origin sent them (RFC 9110 §7.7, RFC 9111 §5.2.1.6, §5.2.2.6).
func TestNoTransformIsRespected(t *testing.T) {
	o := identityOrigin(t, "max-age=60, no-transform", "text/html", page)
	p := newTestProxy(t, o.URL, withCompression)
	p.raw(t, "GET", "/nt")
	resp, body := p.raw(t, "GET", "/nt", "Accept-Encoding", "gzip, br, zstd")
	wantStatus(t, resp, "HIT", "hit")
	if resp.Header.Get("Content-Encoding") != "" || !bytes.Equal(body, page) || resp.Header.Get("Etag") != `"v1"` || hasVaryAE(resp) {
		t.Errorf("no-transform response: coding %q, %d bytes, ETag %q, Vary %q; want the origin's bytes and fields",
			resp.Header.Get("Content-Encoding"), len(body), resp.Header.Get("Etag"), resp.Header.Values("Vary"))
	}

	gz, _ := compress.New().Encode("gzip", page)
	og := newOrigin(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60, no-transform")
		w.Header().Set("Content-Type", "text/html")
		w.Header().Set("Content-Encoding", "gzip")
		w.Write(gz)
	})
	pg := newTestProxy(t, og.URL, withCompression)
	for _, xc := range []string{"MISS", "HIT"} {
		resp, body = pg.raw(t, "GET", "/ntgz")
		if resp.Header.Get("X-Cache") != xc || resp.Header.Get("Content-Encoding") != "gzip" || !bytes.Equal(body, gz) {
			t.Errorf("no-transform gzip, %s: coding %q; want the origin's gzip bytes untouched", xc, resp.Header.Get("Content-Encoding"))
		}
	}

	// A request's no-transform: the origin's bytes although a copy exists.
	oi := identityOrigin(t, "max-age=60", "text/html", page)
	pi := newTestProxy(t, oi.URL, withCompression)
	pi.raw(t, "GET", "/x")
	resp, body = pi.raw(t, "GET", "/x", "Accept-Encoding", "br", "Cache-Control", "no-transform")
	if resp.Header.Get("Content-Encoding") != "" || !bytes.Equal(body, page) {
		t.Errorf("request no-transform: coding %q; want identity", resp.Header.Get("Content-Encoding"))
	}
}

// What is not worth compressing is served as it is, without Vary: a small body, a
// type not listed, or any response when compression is off.
func TestNotCompressed(t *testing.T) {
	for _, tt := range []struct {
		name, contentType string
		body              []byte
		tweak             []func(*Options)
	}{
		{"below the minimum size", "text/html", page[:1000], []func(*Options){withCompression}},
		{"a type not listed", "image/png", page, []func(*Options){withCompression}},
		{"compression off", "text/html", page, nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			o := identityOrigin(t, "max-age=60", tt.contentType, tt.body)
			p := newTestProxy(t, o.URL, tt.tweak...)
			p.raw(t, "GET", "/n")
			resp, body := p.raw(t, "GET", "/n", "Accept-Encoding", "gzip, br, zstd")
			wantStatus(t, resp, "HIT", "hit")
			if resp.Header.Get("Content-Encoding") != "" || !bytes.Equal(body, tt.body) || hasVaryAE(resp) || resp.Header.Get("Etag") != `"v1"` {
				t.Errorf("coding %q, %d bytes, Vary %q, ETag %q; want the origin's response as it was",
					resp.Header.Get("Content-Encoding"), len(body), resp.Header.Values("Vary"), resp.Header.Get("Etag"))
			}
		})
	}
}

// A 304 that refreshes a stored entry keeps its copies: nothing is compressed again.
func TestRefreshKeepsCopies(t *testing.T) {
	o := newOrigin(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=0")
		w.Header().Set("ETag", `"v1"`)
		if r.Header.Get("If-None-Match") == `"v1"` {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		w.Header().Set("Content-Type", "text/css")
		w.Write(page)
	})
	p := newTestProxy(t, o.URL, withCompression)
	p.raw(t, "GET", "/s.css")
	for range 3 {
		resp, body := p.raw(t, "GET", "/s.css", "Accept-Encoding", "gzip")
		if resp.Header.Get("Content-Encoding") != "gzip" || !bytes.Equal(decodeAs(t, "gzip", body), page) {
			t.Fatalf("after a 304: coding %q, want gzip decoding to the page", resp.Header.Get("Content-Encoding"))
		}
	}
	if got := testutil.ToFloat64(p.h.m.CompressInputCounter("gzip")); got != float64(len(page)) {
		t.Errorf("gzip input bytes = %v after three refreshes, want %d (compressed once)", got, len(page))
	}
}

// Accept-Encoding spelled differently by browsers that accept the same codings
// shares one variant of a response that varies on it (RFC 9110 §12.5.3).
func TestVaryAcceptEncodingNormalised(t *testing.T) {
	o := newOrigin(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		w.Header().Set("Vary", "Accept-Encoding")
		io.WriteString(w, "variant for "+r.Header.Get("Accept-Encoding"))
	})
	p := newTestProxy(t, o.URL)
	p.raw(t, "GET", "/v", "Accept-Encoding", "gzip, deflate, br, zstd") // Chrome
	for _, ae := range []string{"gzip, deflate, br, zstd", "deflate, gzip, br, zstd", "zstd,br,gzip,deflate", "gzip, deflate, br, zstd, foo;q=0"} {
		resp, _ := p.raw(t, "GET", "/v", "Accept-Encoding", ae)
		wantStatus(t, resp, "HIT", "hit")
	}
	for _, ae := range []string{"gzip, deflate, br", "gzip, deflate, br, zstd;q=0"} { // Safari, or zstd refused
		if _, body := p.raw(t, "GET", "/v", "Accept-Encoding", ae); bytes.Contains(body, []byte("zstd")) {
			t.Errorf("AE %q got Chrome's variant %q, though it does not accept zstd", ae, body)
		}
	}
	if got := o.calls.Load(); got != 2 {
		t.Errorf("origin saw %d requests, want 2 (Chrome's variant, Safari's)", got)
	}
}

// A replica that reads an entry from the shared tier serves it in every coding too,
// and finds it under the same normalised key.
func TestSharedTierEntryServedCompressed(t *testing.T) {
	o := identityOrigin(t, "max-age=60", "text/html", page)
	shared := newMemShared() // lease_test.go
	tweak := func(opt *Options) {
		withCompression(opt)
		opt.Shared = shared
		opt.Key = policy.KeyRules{IgnoreQuery: []string{"utm_*"}}
	}
	a, b := newTestProxy(t, o.URL, tweak), newTestProxy(t, o.URL, tweak)
	a.raw(t, "GET", "/p?utm_source=a")
	resp, body := b.raw(t, "GET", "/p?utm_medium=b", "Accept-Encoding", "br")
	wantStatus(t, resp, "HIT", "hit")
	if resp.Header.Get("Content-Encoding") != "br" || !bytes.Equal(decodeAs(t, "br", body), page) {
		t.Errorf("replica B: coding %q; want br of the page", resp.Header.Get("Content-Encoding"))
	}
	if got := o.calls.Load(); got != 1 {
		t.Errorf("origin saw %d requests, want 1", got)
	}
}

// A body labelled gzip that is not gzip reaches a client without gzip as it came,
// every byte of it, rather than truncated by the decoder that gave up on it.
func TestUndecodableOriginBodyRelayedWhole(t *testing.T) {
	junk := []byte(strings.Repeat("not gzip at all ", 100))
	o := newOrigin(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		w.Header().Set("Content-Type", "text/plain")
		w.Header().Set("Content-Encoding", "gzip")
		w.Write(junk)
	})
	p := newTestProxy(t, o.URL, withCompression)
	for _, xc := range []string{"MISS", "HIT"} {
		resp, body := p.raw(t, "GET", "/junk")
		if resp.Header.Get("X-Cache") != xc || !bytes.Equal(body, junk) || resp.Header.Get("Content-Encoding") != "gzip" {
			t.Errorf("%s: X-Cache %q, %d bytes, coding %q; want the origin's %d bytes as labelled", xc, resp.Header.Get("X-Cache"), len(body), resp.Header.Get("Content-Encoding"), len(junk))
		}
	}
}

// A HEAD the cache forwards gets the fields a GET of the same response gets.
func TestHeadMissMatchesGetMiss(t *testing.T) {
	gz, _ := compress.New().Encode("gzip", page)
	for _, tt := range []struct {
		name, coding string
		body         []byte
	}{{"identity origin", "", page}, {"gzip origin", "gzip", gz}} {
		t.Run(tt.name, func(t *testing.T) {
			o := newOrigin(t, func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Cache-Control", "max-age=60")
				w.Header().Set("Content-Type", "text/html")
				w.Header().Set("ETag", `"h1"`)
				if tt.coding != "" {
					w.Header().Set("Content-Encoding", tt.coding)
				}
				w.Header().Set("Content-Length", strconv.Itoa(len(tt.body)))
				if r.Method != http.MethodHead {
					w.Write(tt.body)
				}
			})
			p := newTestProxy(t, o.URL, withCompression)
			head, _ := p.raw(t, "HEAD", "/h")
			get, _ := p.raw(t, "GET", "/h?other") // another key: a miss too
			if get.Header.Get("X-Cache") != "MISS" || head.Header.Get("X-Cache") != "MISS" {
				t.Fatalf("want two misses, got %q, %q", head.Header.Get("X-Cache"), get.Header.Get("X-Cache"))
			}
			for _, f := range []string{"Content-Encoding", "Content-Length", "Etag", "Vary"} {
				if head.Header.Get(f) != get.Header.Get(f) {
					t.Errorf("HEAD %s = %q, GET's %q", f, head.Header.Get(f), get.Header.Get(f))
				}
			}
		})
	}
}

// The client whose miss fills the entry gets the coding it prefers too, when the
// body is small enough to read whole first; a large or unknown-length body streams
// as the origin sends it.
func TestMissServedFromCopy(t *testing.T) {
	large := bytes.Repeat(page, 300<<10/len(page)+1)
	for _, tt := range []struct {
		name    string
		body    []byte
		chunked bool
		want    string
	}{
		{"small body", page, false, "br"},
		{"past copyOnMissMax", large, false, ""},
		{"unknown length", page, true, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			o := newOrigin(t, func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Cache-Control", "max-age=60")
				w.Header().Set("Content-Type", "text/html")
				w.Header().Set("ETag", `"m1"`)
				if tt.chunked {
					w.Write(tt.body[:10])
					w.(http.Flusher).Flush()
					w.Write(tt.body[10:])
					return
				}
				w.Header().Set("Content-Length", strconv.Itoa(len(tt.body)))
				w.Write(tt.body)
			})
			p := newTestProxy(t, o.URL, withCompression, func(opt *Options) { opt.MaxObjectSize = 1 << 20 })
			resp, body := p.raw(t, "GET", "/m", "Accept-Encoding", "br, gzip")
			wantStatus(t, resp, "MISS", "fwd=miss; stored")
			if got := resp.Header.Get("Content-Encoding"); got != tt.want {
				t.Fatalf("miss: Content-Encoding %q, want %q", got, tt.want)
			}
			if got := decodeAs(t, tt.want, body); !bytes.Equal(got, tt.body) {
				t.Fatalf("miss body decodes to %d bytes, want the origin's %d", len(got), len(tt.body))
			}
			if !hasVaryAE(resp) {
				t.Errorf("miss: Vary = %q, want Accept-Encoding", resp.Header.Values("Vary"))
			}
			resp, body = p.raw(t, "GET", "/m", "Accept-Encoding", "br, gzip")
			wantStatus(t, resp, "HIT", "hit")
			if resp.Header.Get("Content-Encoding") != "br" || !bytes.Equal(decodeAs(t, "br", body), tt.body) {
				t.Errorf("hit: Content-Encoding %q, want br of the origin's bytes", resp.Header.Get("Content-Encoding"))
			}
			if got := o.calls.Load(); got != 1 {
				t.Errorf("origin saw %d requests, want 1", got)
			}
		})
	}
}

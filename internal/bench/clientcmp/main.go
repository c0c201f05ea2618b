// Command clientcmp is a stock httputil.ReverseProxy to --upstream whose Transport is
// net/http's, fasthttp's HostClient behind an adapter, or internal/origin: the same
// handler with only the origin client swapped, to compare what each costs.
package main

import (
	"flag"
	"io"
	"log"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strconv"
	"sync"
	"time"

	"github.com/caching-proxy/caching-proxy/internal/origin"
	"github.com/valyala/fasthttp"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:9000", "listen address")
	up := flag.String("upstream", "", "origin URL")
	kind := flag.String("client", "origin", "nethttp, fasthttp or origin")
	flag.Parse()
	u, err := url.Parse(*up)
	if err != nil {
		log.Fatal(err)
	}
	var rt http.RoundTripper
	switch *kind {
	case "nethttp":
		rt = &http.Transport{MaxIdleConns: 512, MaxIdleConnsPerHost: 256, IdleConnTimeout: 90 * time.Second, DisableCompression: true}
	case "fasthttp":
		rt = &fastRT{hc: &fasthttp.HostClient{Addr: u.Host, StreamResponseBody: true, DisableHeaderNamesNormalizing: true,
			NoDefaultUserAgentHeader: true, MaxConns: 1024, MaxIdemponentCallAttempts: 1}}
	default:
		rt = origin.New(origin.Options{})
	}
	rp := &httputil.ReverseProxy{
		Rewrite:    func(pr *httputil.ProxyRequest) { pr.SetURL(u); pr.SetXForwarded() },
		Transport:  rt,
		BufferPool: &pool{},
	}
	log.Fatal(http.ListenAndServe(*addr, rp))
}

type pool struct{ p sync.Pool }

func (b *pool) Get() []byte {
	if v, ok := b.p.Get().(*[]byte); ok {
		return *v
	}
	return make([]byte, 32<<10)
}
func (b *pool) Put(buf []byte) { b.p.Put(&buf) }

// fastRT adapts fasthttp.HostClient to http.RoundTripper, streaming the response body.
type fastRT struct{ hc *fasthttp.HostClient }

func (f *fastRT) RoundTrip(r *http.Request) (*http.Response, error) {
	req := fasthttp.AcquireRequest()
	resp := fasthttp.AcquireResponse()
	req.Header.DisableNormalizing()
	req.Header.SetMethod(r.Method)
	req.SetRequestURI(r.URL.RequestURI())
	req.Header.SetHost(r.URL.Host)
	for k, vs := range r.Header {
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	if r.Body != nil && r.Body != http.NoBody {
		req.SetBodyStream(r.Body, int(r.ContentLength))
	}
	err := f.hc.Do(req, resp)
	fasthttp.ReleaseRequest(req)
	if err != nil {
		fasthttp.ReleaseResponse(resp)
		return nil, err
	}
	h := make(http.Header, resp.Header.Len())
	for k, v := range resp.Header.All() {
		ck := http.CanonicalHeaderKey(string(k))
		h[ck] = append(h[ck], string(v))
	}
	cl := int64(resp.Header.ContentLength())
	if cl < 0 {
		cl = -1
	}
	out := &http.Response{StatusCode: resp.StatusCode(), Status: strconv.Itoa(resp.StatusCode()), Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: h, ContentLength: cl, Request: r}
	out.Body = &fastBody{resp: resp, r: resp.BodyStream()}
	return out, nil
}

type fastBody struct {
	resp *fasthttp.Response
	r    io.Reader
	once sync.Once
}

func (b *fastBody) Read(p []byte) (int, error) { return b.r.Read(p) }
func (b *fastBody) Close() error {
	b.once.Do(func() { b.resp.CloseBodyStream(); fasthttp.ReleaseResponse(b.resp) })
	return nil
}

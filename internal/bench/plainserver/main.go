// Command plainserver is the benchmark's plain server and origin: a net/http server
// that answers every request with --size bytes from memory and the fields an origin
// sends. Paths under /nostore/ are Cache-Control: no-store, the rest max-age=3600.
//
// With --reverse-proxy URL it is instead a stock httputil.ReverseProxy to URL, with
// no cache: the baseline that shows what the proxy's pass-through adds to Go's own.
//
//	plainserver --addr 127.0.0.1:8000 --size 1024 [--delay 0]
//	plainserver --addr 127.0.0.1:8001 --reverse-proxy http://127.0.0.1:8000
package main

import (
	"context"
	"errors"
	"flag"
	"log"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/caching-proxy/caching-proxy/internal/bench"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8000", "listen address")
	size := flag.Int("size", 1024, "body size in bytes")
	delay := flag.Duration("delay", 0, "time to wait before answering, standing for an origin's own work")
	upstream := flag.String("reverse-proxy", "", "forward every request to this URL instead of answering")
	flag.Parse()
	if *size < 0 {
		log.Fatal("plainserver: --size must not be negative")
	}
	h := bench.Handler(bench.Body(*size), *delay)
	if *upstream != "" {
		u, err := url.Parse(*upstream)
		if err != nil || u.Host == "" {
			log.Fatalf("plainserver: --reverse-proxy %q: want an absolute URL", *upstream)
		}
		h = &httputil.ReverseProxy{
			Rewrite:   func(pr *httputil.ProxyRequest) { pr.SetURL(u); pr.SetXForwarded() },
			Transport: &http.Transport{MaxIdleConns: 512, MaxIdleConnsPerHost: 256, IdleConnTimeout: 90 * time.Second},
		}
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatalf("plainserver: %v", err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		log.Fatalf("plainserver: %v", err)
	}
}

package main

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"net"
	"net/http"

	"github.com/caching-proxy/caching-proxy/internal/config"
	"github.com/caching-proxy/caching-proxy/internal/tlsreload"
)

// listener is one server and where it listens, with the certificate it presents
// (nil for cleartext).
type listener struct {
	srv  *http.Server
	ln   net.Listener
	cert *tlsreload.Cert
}

func (l listener) serve() error {
	if l.cert != nil {
		return l.srv.ServeTLS(l.ln, "", "") // the certificate comes from TLSConfig.GetCertificate
	}
	return l.srv.Serve(l.ln)
}

func (l listener) scheme() string {
	if l.cert != nil {
		return "https"
	}
	return "http"
}

// loadCert reads the pair named by the two flags, or returns nil when none is set.
func loadCert(certFlag, certFile, keyFile string, log *slog.Logger) (*tlsreload.Cert, error) {
	if certFile == "" {
		return nil, nil
	}
	c, err := tlsreload.Load(certFile, keyFile, log)
	if err != nil {
		return nil, fmt.Errorf("--%s: %w", certFlag, err)
	}
	return c, nil
}

// protocols sets what a server speaks. With a certificate: TLS (cfg's minimum version),
// HTTP/2 chosen by ALPN and HTTP/1.1 for clients that do not offer h2. Without: HTTP/1.1,
// and with h2c also cleartext HTTP/2 with prior knowledge (RFC 9113 §3.3), both done by
// net/http itself.
func protocols(srv *http.Server, cert *tlsreload.Cert, minVersion uint16, h2c bool) {
	srv.Protocols = new(http.Protocols)
	srv.Protocols.SetHTTP1(true)
	switch {
	case cert != nil:
		srv.Protocols.SetHTTP2(true)
		srv.TLSConfig = &tls.Config{MinVersion: minVersion, GetCertificate: cert.GetCertificate}
	case h2c:
		srv.Protocols.SetUnencryptedHTTP2(true)
	}
}

// withoutH2CUpgrade drops an HTTP/1.1 "Upgrade: h2c" offer (RFC 7540 §3.2), so the
// request is answered over HTTP/1.1 as RFC 9110 §7.8 allows, instead of the offer
// being relayed to the origin as a protocol switch. RFC 9113 deprecated that upgrade;
// cleartext HTTP/2 clients use prior knowledge, which --h2c serves.
func withoutH2CUpgrade(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ProtoMajor == 1 && r.Header.Get("Upgrade") != "" && r.Header.Get("HTTP2-Settings") != "" {
			r.Header.Del("Upgrade")
			r.Header.Del("HTTP2-Settings")
		}
		h.ServeHTTP(w, r)
	})
}

// reloadCerts reloads every certificate on SIGHUP and when its files change, until ctx
// ends. Failures are logged by tlsreload and the old certificate stays.
func reloadCerts(ctx context.Context, log *slog.Logger, certs ...*tlsreload.Cert) {
	var live []*tlsreload.Cert
	for _, c := range certs {
		if c == nil {
			continue
		}
		live = append(live, c)
		go func() {
			if err := c.Watch(ctx); err != nil {
				cert, _ := c.Files()
				log.Warn("tls: not watching certificate files; reload with SIGHUP", "cert", cert, "err", err)
			}
		}()
	}
	if len(live) == 0 {
		return
	}
	onHangup(ctx, func() {
		log.Info("SIGHUP: reloading TLS certificates")
		for _, c := range live {
			_ = c.Reload()
		}
	})
}

// tlsMinVersion is cfg's --tls-min-version; Validate has checked it.
func tlsMinVersion(cfg config.Config) uint16 {
	v, _ := config.TLSVersion(cfg.TLSMinVersion)
	return v
}

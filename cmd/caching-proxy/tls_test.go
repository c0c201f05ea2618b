package main

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/caching-proxy/caching-proxy/internal/config"
	"github.com/caching-proxy/caching-proxy/internal/tlsreload/tlstest"
)

// A TCP connection that never finishes the TLS handshake is closed after
// readHeaderTimeout, as a stalled HTTP/1.1 header is.
func TestStalledTLSHandshakeIsDropped(t *testing.T) {
	if testing.Short() {
		t.Skip("waits out readHeaderTimeout")
	}
	t.Parallel()
	o := newRecordingOrigin(t, func(w http.ResponseWriter, r *http.Request) {})
	p := startWireProxy(t, wireModes[1], o.URL)
	c, err := net.Dial("tcp", strings.TrimPrefix(p.url, "https://"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	start := time.Now()
	_ = c.SetReadDeadline(time.Now().Add(readHeaderTimeout + 5*time.Second))
	_, err = c.Read(make([]byte, 1))
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatalf("connection still open %v into a handshake that never started", time.Since(start))
	}
	if took := time.Since(start); took < readHeaderTimeout-time.Second {
		t.Errorf("closed after %v, before readHeaderTimeout %v", took, readHeaderTimeout)
	}
}

func TestTLSVersionsAndALPN(t *testing.T) {
	t.Parallel()
	o := newRecordingOrigin(t, func(w http.ResponseWriter, r *http.Request) {})
	for _, min := range []string{"1.2", "1.3"} {
		p := startWireProxy(t, wireModes[1], o.URL, func(c *config.Config) { c.TLSMinVersion = min })
		addr := strings.TrimPrefix(p.url, "https://")
		dial := func(max uint16, alpn ...string) (tls.ConnectionState, error) {
			c, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: p.pair.Pool(), MaxVersion: max, NextProtos: alpn})
			if err != nil {
				return tls.ConnectionState{}, err
			}
			defer c.Close()
			return c.ConnectionState(), nil
		}
		st, err := dial(tls.VersionTLS12, "h2", "http/1.1")
		switch {
		case min == "1.2" && (err != nil || st.NegotiatedProtocol != "h2"):
			t.Errorf("min %s: TLS 1.2 client offering h2: %v, ALPN %q; want h2", min, err, st.NegotiatedProtocol)
		case min == "1.3" && err == nil:
			t.Errorf("min %s: a TLS 1.2 client was accepted", min)
		}
		if st, err := dial(0, "http/1.1"); err != nil || st.NegotiatedProtocol != "http/1.1" {
			t.Errorf("min %s: client offering only http/1.1: %v, ALPN %q", min, err, st.NegotiatedProtocol)
		}
		if _, err := dial(tls.VersionTLS11); err == nil {
			t.Errorf("min %s: a TLS 1.1 client was accepted", min)
		}
	}
}

// An HTTP/1.1 "Upgrade: h2c" offer (what curl --http2 sends to an http:// URL) is
// answered over HTTP/1.1 and is not relayed to the origin.
func TestH2CUpgradeOfferIsAnsweredOverHTTP1(t *testing.T) {
	t.Parallel()
	o := newRecordingOrigin(t, func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") })
	p := startWireProxy(t, wireModes[3], o.URL)
	c, err := net.Dial("tcp", strings.TrimPrefix(p.url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	fmt.Fprint(c, "GET /up HTTP/1.1\r\nHost: proxy\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQCAAAAAAIAAAAA\r\n\r\n")
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || resp.Proto != "HTTP/1.1" || string(body) != "ok" {
		t.Errorf("Upgrade: h2c offer: %s %d %q, want HTTP/1.1 200 ok", resp.Proto, resp.StatusCode, body)
	}
	if h := o.lastHeader(); h.Get("Upgrade") != "" || h.Get("Http2-Settings") != "" {
		t.Errorf("origin saw Upgrade %q, HTTP2-Settings %q; want neither", h.Get("Upgrade"), h.Get("Http2-Settings"))
	}
}

// The certificate on disk changes: new handshakes present the new one without a
// restart, and a connection opened before keeps working.
func TestCertificateRotation(t *testing.T) {
	t.Parallel()
	o := newRecordingOrigin(t, func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") })
	dir := t.TempDir()
	a, b := tlstest.New(t, "a"), tlstest.New(t, "b")
	certFile, keyFile := a.Write(t, dir)
	p := startProxy(t, o.URL, func(c *config.Config) { c.TLSCert, c.TLSKey = certFile, keyFile })
	both := x509.NewCertPool()
	both.AddCert(a.Cert)
	both.AddCert(b.Cert)
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: both}, ForceAttemptHTTP2: true}
	defer tr.CloseIdleConnections()
	old := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	if resp, _ := send(t, old, http.MethodGet, p.url+"/x"); resp.TLS.PeerCertificates[0].Subject.CommonName != "a" {
		t.Fatalf("first certificate %q, want a", resp.TLS.PeerCertificates[0].Subject.CommonName)
	}
	presented := func() string {
		c, err := tls.Dial("tcp", strings.TrimPrefix(p.url, "https://"), &tls.Config{RootCAs: both})
		if err != nil {
			return err.Error()
		}
		defer c.Close()
		return c.ConnectionState().PeerCertificates[0].Subject.CommonName
	}

	// A half-done rotation (new certificate, old key) changes nothing.
	tlstest.WriteFile(t, certFile, b.CertPEM)
	time.Sleep(time.Second)
	if got := presented(); got != "a" {
		t.Fatalf("with a mismatched pair on disk the proxy presents %q, want the old a", got)
	}
	tlstest.WriteFile(t, keyFile, b.KeyPEM)
	waitUntil(t, "the new certificate is presented", func() bool { return presented() == "b" })

	// The connection from before the rotation is still open and still works.
	resp, _ := send(t, old, http.MethodGet, p.url+"/x")
	if resp.StatusCode != 200 || resp.TLS.PeerCertificates[0].Subject.CommonName != "a" {
		t.Errorf("old connection after rotation: %d, certificate %q; want 200 on the same connection (a)",
			resp.StatusCode, resp.TLS.PeerCertificates[0].Subject.CommonName)
	}
}

// The admin listener over HTTPS: clear-cache reaches it with --admin-ca (or
// --admin-insecure), and says what to pass when the scheme or the trust is wrong.
func TestAdminOverTLS(t *testing.T) {
	t.Parallel()
	unsetProxyEnv(t)
	o := newRecordingOrigin(t, func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") })
	pair := tlstest.New(t, "admin")
	dir := t.TempDir()
	certFile, keyFile := pair.Write(t, dir)
	caFile := dir + "/ca.pem"
	tlstest.WriteFile(t, caFile, pair.CertPEM)
	other := dir + "/other.pem"
	tlstest.WriteFile(t, other, tlstest.New(t, "other").CertPEM)
	p := startProxy(t, o.URL, func(c *config.Config) {
		c.AdminTLSCert, c.AdminTLSKey, c.AdminToken = certFile, keyFile, "s3cret"
	})
	plain := startProxy(t, o.URL)
	clear := func(args ...string) (string, error) {
		var out strings.Builder
		cmd := newRootCmd(nil, clearCache)
		cmd.SetOut(&out)
		cmd.SetErr(io.Discard)
		cmd.SetArgs(append([]string{"clear-cache"}, args...))
		err := cmd.Execute()
		return out.String(), err
	}
	for _, tt := range []struct {
		args    []string
		wantErr string // "" = cleared
	}{
		{[]string{"--admin-addr", p.admin, "--admin-token", "s3cret", "--admin-ca", caFile}, ""},
		{[]string{"--admin-addr", p.admin, "--admin-token", "s3cret", "--admin-insecure"}, ""},
		{[]string{"--admin-addr", "https://" + p.admin, "--admin-token", "s3cret", "--admin-ca", caFile}, ""},
		{[]string{"--admin-addr", p.admin, "--admin-token", "s3cret"}, "serves HTTPS: pass --admin-ca"},
		{[]string{"--admin-addr", p.admin, "--admin-token", "s3cret", "--admin-ca", other}, "pass --admin-ca with its CA"},
		{[]string{"--admin-addr", "https://" + p.admin, "--admin-token", "s3cret"}, "pass --admin-ca with its CA"},
		{[]string{"--admin-addr", p.admin, "--admin-ca", caFile}, "--admin-token"},
		{[]string{"--admin-addr", p.admin, "--admin-ca", dir + "/missing.pem"}, "--admin-ca"},
		{[]string{"--admin-addr", plain.admin, "--admin-insecure"}, "does not speak TLS"},
	} {
		out, err := clear(tt.args...)
		switch {
		case tt.wantErr == "" && (err != nil || !strings.HasPrefix(out, "cleared ")):
			t.Errorf("%q: %v, printed %q; want cleared", tt.args, err, out)
		case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
			t.Errorf("%q: %v; want an error containing %q", tt.args, err, tt.wantErr)
		}
	}
	// Probes and scrapers reach /healthz and /metrics over HTTPS too.
	c := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pair.Pool()}}, Timeout: 10 * time.Second}
	for _, path := range []string{"/healthz", "/metrics"} {
		if resp, _ := send(t, c, http.MethodGet, "https://"+p.admin+path); resp.StatusCode != 200 || resp.ProtoMajor != 1 {
			t.Errorf("GET https://admin%s = %d over %s, want 200", path, resp.StatusCode, resp.Proto)
		}
	}
}

func TestTLSFlags(t *testing.T) {
	unsetProxyEnv(t)
	cfg, _, _, err := execute(t, "start", "--origin", "http://o.test", "--tls-cert", "c.pem", "--tls-key", "k.pem",
		"--tls-min-version", "1.3", "--admin-tls-cert", "ac.pem", "--admin-tls-key", "ak.pem")
	if err != nil || cfg == nil {
		t.Fatalf("start with TLS flags: %v", err)
	}
	if cfg.TLSCert != "c.pem" || cfg.TLSKey != "k.pem" || cfg.TLSMinVersion != "1.3" || cfg.AdminTLSCert != "ac.pem" || cfg.AdminTLSKey != "ak.pem" {
		t.Errorf("TLS flags gave %+v", cfg)
	}
	t.Setenv("CACHING_PROXY_H2C", "true")
	if cfg, _, _, err := execute(t, "--origin", "http://o.test"); err != nil || cfg == nil || !cfg.H2C {
		t.Errorf("CACHING_PROXY_H2C=true: %v, %+v; want H2C", err, cfg)
	}
	if _, _, _, err := execute(t, "--origin", "http://o.test", "--tls-cert", "c.pem"); err == nil || !strings.Contains(err.Error(), "--tls-key") {
		t.Errorf("--tls-cert alone: %v, want an error naming --tls-key", err)
	}
	for _, args := range [][]string{{"clear-cache"}, {"--clear-cache"}} {
		_, target, _, err := execute(t, append(args, "--admin-ca", "ca.pem", "--admin-insecure")...)
		if err != nil || target == nil || target.CA != "ca.pem" || !target.Insecure || !target.tls() {
			t.Errorf("%q --admin-ca --admin-insecure: %v, target %+v", args, err, target)
		}
	}
	// A certificate that cannot be loaded stops start, naming the flag.
	err = runProxy(context.Background(), func() config.Config {
		c := config.Default()
		c.Origin, c.TLSCert, c.TLSKey = "http://o.test", "/nonexistent/c.pem", "/nonexistent/k.pem"
		return c
	}())
	if err == nil || !strings.Contains(err.Error(), "--tls-cert") {
		t.Errorf("runProxy with a missing certificate = %v, want an error naming --tls-cert", err)
	}
}

// SIGHUP reloads the certificate even when no file event reaches the watcher: here the
// flags name symlinks into another directory whose files are rewritten in place.
func TestSIGHUPReloadsCertificates(t *testing.T) {
	o := newRecordingOrigin(t, func(w http.ResponseWriter, r *http.Request) {})
	real, links := t.TempDir(), t.TempDir()
	a, b := tlstest.New(t, "a"), tlstest.New(t, "b")
	a.Write(t, real)
	for _, f := range []string{"tls.crt", "tls.key"} {
		if err := os.Symlink(filepath.Join(real, f), filepath.Join(links, f)); err != nil {
			t.Fatal(err)
		}
	}
	p := startProxy(t, o.URL, func(c *config.Config) {
		c.TLSCert, c.TLSKey = filepath.Join(links, "tls.crt"), filepath.Join(links, "tls.key")
	})
	both := x509.NewCertPool()
	both.AddCert(a.Cert)
	both.AddCert(b.Cert)
	presented := func() string {
		c, err := tls.Dial("tcp", strings.TrimPrefix(p.url, "https://"), &tls.Config{RootCAs: both})
		if err != nil {
			return err.Error()
		}
		defer c.Close()
		return c.ConnectionState().PeerCertificates[0].Subject.CommonName
	}
	for _, f := range []struct {
		name string
		b    []byte
	}{{"tls.crt", b.CertPEM}, {"tls.key", b.KeyPEM}} {
		if err := os.WriteFile(filepath.Join(real, f.name), f.b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(time.Second)
	if got := presented(); got != "a" {
		t.Fatalf("presented %q before SIGHUP; the watcher should not see this change (test setup)", got)
	}
	if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "SIGHUP reloads the certificate", func() bool { return presented() == "b" })
}

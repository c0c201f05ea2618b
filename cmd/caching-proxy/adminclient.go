package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/caching-proxy/caching-proxy/internal/config"
	"github.com/spf13/pflag"
)

// adminTarget says where a running proxy's admin listener is, the same way start chose
// it. Every command that talks to a running proxy (clear-cache, and later ones) finds it
// through this, with the same flags and environment variables.
type adminTarget struct {
	Port      int
	AdminAddr string
	Token     string
	CA        string // PEM file of the CA (or self-signed certificate) the admin listener's certificate is checked against
	Insecure  bool   // HTTPS without checking the certificate
}

// clearTarget is the admin target of clear-cache.
type clearTarget = adminTarget

func (t adminTarget) addr() string {
	if t.AdminAddr != "" {
		a := strings.TrimPrefix(t.AdminAddr, "https://")
		return strings.TrimPrefix(a, "http://")
	}
	return config.DefaultAdminAddr(t.Port)
}

// tls reports whether the admin listener is reached over HTTPS: when --admin-ca or
// --admin-insecure is given, or --admin-addr starts with https://.
func (t adminTarget) tls() bool {
	return t.CA != "" || t.Insecure || strings.HasPrefix(t.AdminAddr, "https://")
}

func (t adminTarget) baseURL() string {
	if t.tls() {
		return "https://" + t.addr()
	}
	return "http://" + t.addr()
}

// client is the HTTP client for t: the default one for cleartext, else one that trusts
// --admin-ca (or the system roots), or nothing with --admin-insecure.
func (t adminTarget) client() (*http.Client, error) {
	if !t.tls() {
		return http.DefaultClient, nil
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: t.Insecure}
	if t.CA != "" {
		pem, err := os.ReadFile(t.CA)
		if err != nil {
			return nil, usageError{fmt.Errorf("--admin-ca: %w", err)}
		}
		cfg.RootCAs = x509.NewCertPool()
		if !cfg.RootCAs.AppendCertsFromPEM(pem) {
			return nil, usageError{fmt.Errorf("--admin-ca: %s holds no PEM certificate", t.CA)}
		}
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = cfg
	return &http.Client{Transport: tr}, nil
}

// adminFlags declares the flags that find the admin listener on f, bound to t.
func adminFlags(f *pflag.FlagSet, t *adminTarget) {
	f.IntVar(&t.Port, "port", t.Port, "public port of the running proxy")
	f.StringVar(&t.AdminAddr, "admin-addr", t.AdminAddr, "admin listener of the proxy (default 127.0.0.1:<port+1>)")
	f.StringVar(&t.Token, "admin-token", t.Token, "bearer token, when the proxy requires one")
	adminTLSFlags(f, t)
}

// adminTLSFlags declares how to reach an admin listener started with --admin-tls-cert.
func adminTLSFlags(f *pflag.FlagSet, t *adminTarget) {
	f.StringVar(&t.CA, "admin-ca", t.CA, "PEM file of the CA (or the self-signed certificate) to trust for an HTTPS admin listener; implies HTTPS")
	f.BoolVar(&t.Insecure, "admin-insecure", t.Insecure, "reach an HTTPS admin listener without checking its certificate (testing only)")
}

// newAdminTarget is the target with start's defaults.
func newAdminTarget() adminTarget {
	cfg := config.Default()
	return adminTarget{Port: cfg.Port, AdminAddr: cfg.AdminAddr, Token: cfg.AdminToken}
}

// call sends one request to the admin listener and decodes a 200's JSON answer into
// out (when out is not nil). Errors name the address and say what to try.
func (t adminTarget) call(ctx context.Context, method, path string, body io.Reader, header http.Header, out any) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	client, err := t.client()
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, method, t.baseURL()+path, body)
	if err != nil {
		return usageError{fmt.Errorf("--admin-addr: %q is not host:port", t.addr())}
	}
	for k, vs := range header {
		req.Header[k] = vs
	}
	if t.Token != "" {
		req.Header.Set("Authorization", "Bearer "+t.Token)
	}
	resp, err := client.Do(req)
	if err != nil {
		if re := (tls.RecordHeaderError{}); errors.As(err, &re) || strings.Contains(err.Error(), "HTTP response to HTTPS client") {
			return fmt.Errorf("the admin listener at %s does not speak TLS: drop --admin-ca and --admin-insecure", t.addr())
		}
		var ue x509.UnknownAuthorityError
		if errors.As(err, &ue) {
			return fmt.Errorf("the admin listener at %s has a certificate this client does not trust (pass --admin-ca with its CA): %w", t.addr(), errors.Unwrap(err))
		}
		var he x509.HostnameError
		if errors.As(err, &he) {
			return fmt.Errorf("the admin listener's certificate is not for %s (reach it by a name the certificate has in --admin-addr): %w", t.addr(), errors.Unwrap(err))
		}
		return fmt.Errorf("no caching-proxy answers at %s (is it running? set --port or --admin-addr as you did for start): %w", t.addr(), errors.Unwrap(err))
	}
	defer resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusOK:
	case http.StatusUnauthorized:
		return fmt.Errorf("the proxy at %s refused the request: pass its --admin-token", t.addr())
	default:
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		if resp.StatusCode == http.StatusBadRequest && !t.tls() && strings.Contains(string(msg), "HTTP request to an HTTPS server") {
			return fmt.Errorf("the admin listener at %s serves HTTPS: pass --admin-ca FILE (or --admin-insecure)", t.addr())
		}
		if len(msg) > 0 {
			return fmt.Errorf("the proxy at %s answered %s: %s", t.addr(), resp.Status, trimSpace(msg))
		}
		return fmt.Errorf("the proxy at %s answered %s", t.addr(), resp.Status)
	}
	if out == nil {
		return nil
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return fmt.Errorf("unexpected answer from %s: %w", t.addr(), err)
	}
	return nil
}

func trimSpace(b []byte) string {
	for len(b) > 0 && (b[len(b)-1] == '\n' || b[len(b)-1] == ' ' || b[len(b)-1] == '\r') {
		b = b[:len(b)-1]
	}
	return string(b)
}

package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
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
}

// clearTarget is the admin target of clear-cache.
type clearTarget = adminTarget

func (t adminTarget) addr() string {
	if t.AdminAddr != "" {
		return t.AdminAddr
	}
	return config.DefaultAdminAddr(t.Port)
}

// adminFlags declares the flags that find the admin listener on f, bound to t.
func adminFlags(f *pflag.FlagSet, t *adminTarget) {
	f.IntVar(&t.Port, "port", t.Port, "public port of the running proxy")
	f.StringVar(&t.AdminAddr, "admin-addr", t.AdminAddr, "admin listener of the proxy (default 127.0.0.1:<port+1>)")
	f.StringVar(&t.Token, "admin-token", t.Token, "bearer token, when the proxy requires one")
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
	req, err := http.NewRequestWithContext(ctx, method, "http://"+t.addr()+path, body)
	if err != nil {
		return usageError{fmt.Errorf("--admin-addr: %q is not host:port", t.addr())}
	}
	for k, vs := range header {
		req.Header[k] = vs
	}
	if t.Token != "" {
		req.Header.Set("Authorization", "Bearer "+t.Token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("no caching-proxy answers at %s (is it running? set --port or --admin-addr as you did for start): %w", t.addr(), errors.Unwrap(err))
	}
	defer resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusOK:
	case http.StatusUnauthorized:
		return fmt.Errorf("the proxy at %s refused the request: pass its --admin-token", t.addr())
	default:
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
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

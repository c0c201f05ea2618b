package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/caching-proxy/caching-proxy/internal/admin"
	"github.com/caching-proxy/caching-proxy/internal/config"
	"github.com/dustin/go-humanize"
	"github.com/spf13/cobra"
)

// clearTarget says where the running proxy's admin listener is, the same way start chose it.
type clearTarget struct {
	Port      int
	AdminAddr string
	Token     string
}

func (t clearTarget) addr() string {
	if t.AdminAddr != "" {
		return t.AdminAddr
	}
	return config.DefaultAdminAddr(t.Port)
}

func newClearCmd(clear clearFunc) *cobra.Command {
	cfg := config.Default()
	cmd := &cobra.Command{
		Use:   "clear-cache",
		Short: "Empty the cache of a running proxy",
		Long: `Empty the cache of a running proxy. It finds the proxy's admin listener the way
start chose it: --admin-addr, else 127.0.0.1:<port+1>, with the same environment
variables (CACHING_PROXY_PORT, CACHING_PROXY_ADMIN_ADDR, CACHING_PROXY_ADMIN_TOKEN).
With a shared Redis tier, every replica's cache is emptied.`,
		Example: `  caching-proxy clear-cache                   # proxy started with the default --port 3000
  caching-proxy clear-cache --port 8080
  caching-proxy clear-cache --admin-addr 10.0.0.5:3001 --admin-token "$TOKEN"`,
		Args:          cobra.NoArgs,
		SilenceUsage:  true,
		SilenceErrors: true,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := applyEnv(cmd.Flags()); err != nil {
				return err
			}
			return runClear(cmd, clear, clearTarget{Port: cfg.Port, AdminAddr: cfg.AdminAddr, Token: cfg.AdminToken})
		},
	}
	cmd.SetFlagErrorFunc(flagError)
	f := cmd.Flags()
	f.IntVar(&cfg.Port, "port", cfg.Port, "public port of the proxy to clear")
	f.StringVar(&cfg.AdminAddr, "admin-addr", cfg.AdminAddr, "admin listener of the proxy (default 127.0.0.1:<port+1>)")
	f.StringVar(&cfg.AdminToken, "admin-token", cfg.AdminToken, "bearer token, when the proxy requires one")
	return cmd
}

func runClear(cmd *cobra.Command, clear clearFunc, t clearTarget) error {
	msg, err := clear(cmd.Context(), t)
	if err != nil {
		return err
	}
	fmt.Fprintln(cmd.OutOrStdout(), msg)
	return nil
}

// clearCache asks the proxy at t to clear its cache and describes what it dropped.
func clearCache(ctx context.Context, t clearTarget) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	url := "http://" + t.addr() + "/cache/clear"
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, nil)
	if err != nil {
		return "", usageError{fmt.Errorf("--admin-addr: %q is not host:port", t.addr())}
	}
	if t.Token != "" {
		req.Header.Set("Authorization", "Bearer "+t.Token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", fmt.Errorf("no caching-proxy answers at %s (is it running? set --port or --admin-addr as you did for start): %w", t.addr(), errors.Unwrap(err))
	}
	defer resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusOK:
	case http.StatusUnauthorized:
		return "", fmt.Errorf("the proxy at %s refused the request: pass its --admin-token", t.addr())
	default:
		return "", fmt.Errorf("the proxy at %s answered %s", t.addr(), resp.Status)
	}
	var c admin.Cleared
	if err := json.NewDecoder(resp.Body).Decode(&c); err != nil {
		return "", fmt.Errorf("unexpected answer from %s: %w", t.addr(), err)
	}
	return fmt.Sprintf("cleared %d entries (%s) from the cache at %s", c.Entries, humanize.IBytes(uint64(max(c.Bytes, 0))), t.addr()), nil
}

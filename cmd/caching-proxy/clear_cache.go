package main

import (
	"context"
	"fmt"
	"net/http"

	"github.com/caching-proxy/caching-proxy/internal/admin"
	"github.com/dustin/go-humanize"
	"github.com/spf13/cobra"
)

func newClearCmd(clear clearFunc) *cobra.Command {
	t := newAdminTarget()
	cmd := &cobra.Command{
		Use:   "clear-cache",
		Short: "Empty the cache of a running proxy",
		Long: `Empty the cache of a running proxy. It finds the proxy's admin listener the way
start chose it: --admin-addr, else 127.0.0.1:<port+1>, with the same environment
variables (CACHING_PROXY_PORT, CACHING_PROXY_ADMIN_ADDR, CACHING_PROXY_ADMIN_TOKEN).
With a shared Redis tier, every replica's cache is emptied.`,
		Example: `  caching-proxy clear-cache                   # proxy started with the default --port 3000
  caching-proxy clear-cache --port 8080
  caching-proxy clear-cache --admin-addr 10.0.0.5:3001 --admin-token "$TOKEN"
  caching-proxy clear-cache --admin-addr 10.0.0.5:3001 --admin-token "$TOKEN" --admin-ca ca.pem  # admin over TLS`,
		Args:          cobra.NoArgs,
		SilenceUsage:  true,
		SilenceErrors: true,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := applyEnv(cmd.Flags()); err != nil {
				return err
			}
			return runClear(cmd, clear, t)
		},
	}
	cmd.SetFlagErrorFunc(flagError)
	adminFlags(cmd.Flags(), &t)
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
	var c admin.Cleared
	if err := t.call(ctx, http.MethodPost, "/cache/clear", nil, nil, &c); err != nil {
		return "", err
	}
	return fmt.Sprintf("cleared %d entries (%s) from the cache at %s", c.Entries, humanize.IBytes(uint64(max(c.Bytes, 0))), t.addr()), nil
}

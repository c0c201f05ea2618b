package main

import (
	"context"
	"fmt"
	"os"
	"strings"

	"github.com/caching-proxy/caching-proxy/internal/config"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// runFunc starts the proxy; clearFunc asks a running one to clear its cache.
// Commands take them as parameters so flag handling is tested without servers.
type (
	runFunc   func(ctx context.Context, cfg config.Config) error
	clearFunc func(ctx context.Context, t clearTarget) (string, error)
)

const envPrefix = "CACHING_PROXY_"

func newRootCmd(run runFunc, clear clearFunc) *cobra.Command {
	cfg := config.Default()
	var clearFlag bool
	var clearTLS adminTarget
	root := &cobra.Command{
		Use:   "caching-proxy",
		Short: "An HTTP caching reverse proxy for one origin",
		Long: `caching-proxy sits in front of one HTTP origin, forwards every request to it, and
answers repeated requests from its cache as HTTP allows (RFC 9111). Responses carry
X-Cache: HIT or MISS and a Cache-Status field (RFC 9211). Metrics for Prometheus are
served on a separate admin listener (loopback by default).`,
		Example: `  caching-proxy start --port 3000 --origin https://api.example.com
  caching-proxy clear-cache --port 3000

  # short forms
  caching-proxy --port 3000 --origin https://api.example.com
  caching-proxy --clear-cache`,
		Version:       version,
		SilenceUsage:  true,
		SilenceErrors: true,
		Args:          cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := applyEnv(cmd.Flags()); err != nil {
				return err
			}
			if clearFlag {
				return runClear(cmd, clear, clearTarget{Port: cfg.Port, AdminAddr: cfg.AdminAddr, Token: cfg.AdminToken,
					CA: clearTLS.CA, Insecure: clearTLS.Insecure})
			}
			if cfg.Origin == "" {
				return cmd.Help()
			}
			return startValidated(cmd, run, cfg)
		},
	}
	root.SetFlagErrorFunc(flagError)
	startFlags(root.Flags(), &cfg)
	root.Flags().BoolVar(&clearFlag, "clear-cache", false, "clear the running proxy's cache (same as the clear-cache command)")
	adminTLSFlags(root.Flags(), &clearTLS)
	root.AddCommand(newStartCmd(run), newClearCmd(clear), newPurgeCmd(purgeCache), newInspectCmd())
	return root
}

func newStartCmd(run runFunc) *cobra.Command {
	cfg := config.Default()
	cmd := &cobra.Command{
		Use:   "start",
		Short: "Run the proxy in front of an origin",
		Long: `Run the proxy in front of an origin. Every flag can also be set by an environment
variable: CACHING_PROXY_ and the flag's name in upper case with underscores, for
example CACHING_PROXY_ORIGIN or CACHING_PROXY_CACHE_SIZE. Flags win over variables.

SIGINT or SIGTERM stops accepting connections, lets requests in flight finish, and exits 0.
With --tls-cert (or --admin-tls-cert), SIGHUP and any change to the certificate files
reload them; a reload that fails keeps the certificate in use and logs why.`,
		Example: `  caching-proxy start --port 3000 --origin https://api.example.com
  caching-proxy start --origin http://127.0.0.1:8080 --cache-size 1GiB --max-object-size 32MiB
  CACHING_PROXY_ORIGIN=https://api.example.com caching-proxy start
  caching-proxy start --port 443 --origin http://127.0.0.1:8080 --tls-cert fullchain.pem --tls-key privkey.pem`,
		Args:          cobra.NoArgs,
		SilenceUsage:  true,
		SilenceErrors: true,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := applyEnv(cmd.Flags()); err != nil {
				return err
			}
			return startValidated(cmd, run, cfg)
		},
	}
	cmd.SetFlagErrorFunc(flagError)
	startFlags(cmd.Flags(), &cfg)
	return cmd
}

// startFlags declares the flags of start (and of the short form) on f, bound to cfg.
func startFlags(f *pflag.FlagSet, cfg *config.Config) {
	f.StringVar(&cfg.Origin, "origin", cfg.Origin, "absolute http(s) URL of the origin (required)")
	f.IntVar(&cfg.Port, "port", cfg.Port, "port of the public listener")
	f.StringVar(&cfg.Host, "host", cfg.Host, `address of the public listener ("" is every interface)`)
	f.Var(&cfg.CacheSize, "cache-size", "byte budget of the in-memory cache, e.g. 256MiB or 1GB")
	f.Var(&cfg.MaxObjectSize, "max-object-size", "larger responses stream through without being stored")
	f.Var(&cfg.GCHeadroom, "gc-headroom", "how far the heap may grow past its live data before Go collects (at least 10% of it, at most 100%); 0 keeps Go's default; ignored when GOGC or GOMEMLIMIT is set")
	f.StringVar(&cfg.AdminAddr, "admin-addr", cfg.AdminAddr, "admin listener for /metrics, /healthz and cache clearing (default 127.0.0.1:<port+1>)")
	f.StringVar(&cfg.AdminToken, "admin-token", cfg.AdminToken, "bearer token the admin API requires for clearing; required when --admin-addr is not loopback")
	f.DurationVar(&cfg.ConnectTimeout, "connect-timeout", cfg.ConnectTimeout, "how long to wait for a connection to the origin")
	f.DurationVar(&cfg.ResponseHeaderTimeout, "response-header-timeout", cfg.ResponseHeaderTimeout, "how long to wait for the origin's response headers")
	f.DurationVar(&cfg.BodyTimeout, "body-timeout", cfg.BodyTimeout, "longest silence allowed while reading an origin body")
	f.DurationVar(&cfg.StaleIfError, "stale-if-error", cfg.StaleIfError, "serve stale responses this long past expiry when the origin fails (0 = only when the response allows it)")
	f.StringVar(&cfg.RedisURL, "redis-url", cfg.RedisURL, "cache tier shared by several proxies (off when empty): redis://host:port/db, redis+cluster://host:port?addr=host2:port, redis+sentinel://host:26379?master_name=NAME (docs/l2.md)")
	f.StringSliceVar(&cfg.TagHeaders, "tag-header", cfg.TagHeaders, "response fields read for purge tags: Cache-Groups, Surrogate-Key, Cache-Tag (default all three)")
	f.BoolVar(&cfg.KeepTagHeaders, "keep-tag-headers", cfg.KeepTagHeaders, "pass Surrogate-Key and Cache-Tag on to clients instead of removing them")
	f.BoolVar(&cfg.Pprof, "pprof", cfg.Pprof, "serve /debug/pprof on the admin listener")
	f.StringVar(&cfg.LogLevel, "log-level", cfg.LogLevel, "debug, info, warn or error")
	f.StringVar(&cfg.TLSCert, "tls-cert", cfg.TLSCert, "PEM certificate (chain) file: serve HTTPS with HTTP/2 and HTTP/1.1 on the public port; reloaded on SIGHUP and when the file changes")
	f.StringVar(&cfg.TLSKey, "tls-key", cfg.TLSKey, "PEM private key file of --tls-cert")
	f.StringVar(&cfg.TLSMinVersion, "tls-min-version", cfg.TLSMinVersion, "lowest TLS version accepted: 1.2 or 1.3 (public and admin listeners)")
	f.BoolVar(&cfg.H2C, "h2c", cfg.H2C, "also serve cleartext HTTP/2 (prior knowledge) on the public port, for load balancers that speak it")
	f.StringVar(&cfg.AdminTLSCert, "admin-tls-cert", cfg.AdminTLSCert, "PEM certificate file: serve the admin listener over HTTPS (reloaded like --tls-cert)")
	f.StringVar(&cfg.AdminTLSKey, "admin-tls-key", cfg.AdminTLSKey, "PEM private key file of --admin-tls-cert")
	f.StringSliceVar(&cfg.KeyIgnoreQuery, "key-ignore-query", cfg.KeyIgnoreQuery, "query parameters left out of the cache key, as names or globs (utm_*,fbclid,gclid); the origin still gets them")
	f.StringSliceVar(&cfg.KeyOnlyQuery, "key-only-query", cfg.KeyOnlyQuery, "when set, the only query parameters the cache key keeps (names or globs)")
	f.BoolVar(&cfg.KeySortQuery, "key-sort-query", cfg.KeySortQuery, "sort query parameters in the cache key, so ?b=1&a=2 and ?a=2&b=1 share an entry")
	f.BoolVar(&cfg.Compress, "compress", cfg.Compress, "serve stored text in the best coding the client accepts (zstd, br, gzip), compressed once per entry; --compress=false serves bytes as the origin sent them")
	f.StringSliceVar(&cfg.CompressTypes, "compress-types", cfg.CompressTypes, "media types --compress applies to (type/sub, type/*, type/*+suffix)")
	f.Var(&cfg.CompressMinSize, "compress-min-size", "bodies smaller than this are not compressed")
	f.StringVar(&cfg.AccessLog, "access-log", cfg.AccessLog, `one line per request: "-" (stdout), a file path (reopened on SIGHUP), or "off"`)
	f.StringVar(&cfg.AccessLogFormat, "access-log-format", cfg.AccessLogFormat, "text (for a terminal), json, or combined (Apache/nginx, then cache fields)")
}

// startValidated runs the proxy if cfg is valid; flags and environment are applied.
func startValidated(cmd *cobra.Command, run runFunc, cfg config.Config) error {
	if err := cfg.Validate(); err != nil {
		return usageError{err}
	}
	return run(cmd.Context(), cfg)
}

// applyEnv sets every flag the command line left unset from CACHING_PROXY_<NAME>.
func applyEnv(f *pflag.FlagSet) error {
	var err error
	f.VisitAll(func(fl *pflag.Flag) {
		if fl.Changed || err != nil || fl.Hidden {
			return
		}
		name := envPrefix + strings.ToUpper(strings.ReplaceAll(fl.Name, "-", "_"))
		if v, ok := os.LookupEnv(name); ok {
			if e := f.Set(fl.Name, v); e != nil {
				err = usageError{fmt.Errorf("%s (for --%s): %v", name, fl.Name, e)}
			}
		}
	})
	return err
}

// flagError names the flag in a parse error and marks it as a usage error.
func flagError(_ *cobra.Command, err error) error {
	return usageError{fmt.Errorf("%w (see --help)", err)}
}

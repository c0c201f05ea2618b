// Package config holds the settings of one proxy process, their defaults and
// their validation. It knows nothing of flags or environment variables: the
// command line fills a Config and hands parts of it to each constructor.
package config

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/dustin/go-humanize"
)

// Config is everything `caching-proxy start` can be told.
type Config struct {
	Host                  string        // public listener address; "" is every interface
	Port                  int           // public listener port
	Origin                string        // absolute http(s) URL of the origin
	CacheSize             Bytes         // byte budget of the in-memory store
	MaxObjectSize         Bytes         // larger bodies stream through uncached
	GCHeadroom            Bytes         // heap room past live data before a collection (internal/gctune); 0 is Go's default
	AdminAddr             string        // admin listener; "" means 127.0.0.1:<Port+1>
	AdminToken            string        // bearer token for admin writes; required off loopback
	ConnectTimeout        time.Duration // dialing the origin
	ResponseHeaderTimeout time.Duration // origin's status line and headers
	BodyTimeout           time.Duration // longest silence while reading an origin body
	StaleIfError          time.Duration // operator default stale-if-error window; 0 is off
	RedisURL              string        // shared L2 tier; "" keeps the store in memory only
	TagHeaders            []string      // response fields read for purge tags; nil means all three
	KeepTagHeaders        bool          // pass Surrogate-Key and Cache-Tag on to clients
	Pprof                 bool          // serve /debug/pprof on the admin listener
	LogLevel              string        // debug, info, warn, error
	ShutdownTimeout       time.Duration // how long in-flight requests may drain
	TLSCert               string        // PEM certificate (chain) of the public listener; "" serves cleartext
	TLSKey                string        // PEM private key for TLSCert
	TLSMinVersion         string        // "1.2" or "1.3": the lowest TLS version offered
	H2C                   bool          // cleartext HTTP/2 (prior knowledge and Upgrade) beside HTTP/1.1
	AdminTLSCert          string        // PEM certificate of the admin listener; "" serves cleartext
	AdminTLSKey           string        // PEM private key for AdminTLSCert
	KeyIgnoreQuery        []string      // glob patterns of query parameters left out of cache keys
	KeyOnlyQuery          []string      // when set, the only query parameters cache keys keep
	KeySortQuery          bool          // sort query parameters in cache keys
	Compress              bool          // serve stored text in the best coding a client accepts
	CompressTypes         []string      // media types compressed (patterns: text/*, application/*+json)
	CompressMinSize       Bytes         // smaller bodies are served as they are
	AccessLog             string        // "-" is stdout, "off" is none, else a file path (reopened on SIGHUP)
	AccessLogFormat       string        // text, json or combined
}

// DefaultCompressTypes are the media types compressed unless --compress-types says
// otherwise: text, and formats that are text under another name. Images, audio,
// video, archives and WOFF fonts are compressed already.
var DefaultCompressTypes = []string{
	"text/*", "application/json", "application/*+json", "application/javascript",
	"application/x-javascript", "application/ecmascript", "application/xml", "application/*+xml",
	"application/x-ndjson", "application/wasm", "image/svg+xml", "font/ttf", "font/otf",
	"application/vnd.ms-fontobject",
}

// Default returns the settings used when nothing else is given.
func Default() Config {
	return Config{
		Port:                  3000,
		CacheSize:             256 << 20,
		MaxObjectSize:         8 << 20,
		GCHeadroom:            16 << 20,
		ConnectTimeout:        5 * time.Second,
		ResponseHeaderTimeout: 30 * time.Second,
		BodyTimeout:           30 * time.Second,
		LogLevel:              "info",
		ShutdownTimeout:       15 * time.Second,
		TLSMinVersion:         "1.2",
		Compress:              true,
		CompressTypes:         slices.Clone(DefaultCompressTypes),
		CompressMinSize:       1 << 10,
		AccessLog:             "-",
		AccessLogFormat:       "text",
	}
}

// DefaultAdminAddr is where the admin listener goes when no address is given:
// loopback, one port above the public one, so clear-cache can find it from --port alone.
func DefaultAdminAddr(port int) string {
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(port+1))
}

// Admin returns the admin listener address in force.
func (c Config) Admin() string {
	if c.AdminAddr != "" {
		return c.AdminAddr
	}
	return DefaultAdminAddr(c.Port)
}

// Listen returns the public listener address.
func (c Config) Listen() string { return net.JoinHostPort(c.Host, strconv.Itoa(c.Port)) }

// OriginURL parses Origin; Validate has already reported any problem with it.
func (c Config) OriginURL() *url.URL {
	u, _ := ParseOrigin(c.Origin)
	return u
}

// ParseOrigin accepts an absolute http or https URL with a host and no query or fragment.
func ParseOrigin(s string) (*url.URL, error) {
	if s == "" {
		return nil, errors.New("is required (e.g. https://api.example.com)")
	}
	u, err := url.Parse(s)
	if err != nil {
		return nil, fmt.Errorf("%q is not a URL", s)
	}
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		return nil, fmt.Errorf("%q must start with http:// or https://", s)
	case u.Host == "" || u.Hostname() == "":
		return nil, fmt.Errorf("%q has no host", s)
	case u.RawQuery != "" || u.Fragment != "":
		return nil, fmt.Errorf("%q must not have a query or fragment", s)
	case u.User != nil:
		return nil, fmt.Errorf("%q must not carry credentials", s)
	}
	return u, nil
}

// Validate reports every problem at once, each naming its flag.
func (c Config) Validate() error {
	var errs []error
	bad := func(flag, format string, args ...any) {
		errs = append(errs, fmt.Errorf("--%s: %s", flag, fmt.Sprintf(format, args...)))
	}
	if _, err := ParseOrigin(c.Origin); err != nil {
		bad("origin", "%v", err)
	}
	if c.Port < 1 || c.Port > 65535 {
		bad("port", "%d is not a TCP port (1-65535)", c.Port)
	}
	if c.CacheSize < 1<<20 {
		bad("cache-size", "%s is below the 1MiB minimum", c.CacheSize)
	}
	if c.GCHeadroom < 0 {
		bad("gc-headroom", "must not be negative")
	}
	if c.MaxObjectSize < 1 {
		bad("max-object-size", "must be positive")
	} else if c.MaxObjectSize > c.CacheSize {
		bad("max-object-size", "%s is larger than --cache-size %s", c.MaxObjectSize, c.CacheSize)
	}
	if host, port, err := net.SplitHostPort(c.Admin()); err != nil || !isPort(port) {
		bad("admin-addr", "%q is not host:port", c.AdminAddr)
	} else if !IsLoopback(host) && c.AdminToken == "" {
		bad("admin-token", "is required when --admin-addr %q is not a loopback address", c.Admin())
	} else if c.AdminAddr == "" && c.Port == 65535 {
		bad("admin-addr", "no default for --port 65535; set it")
	}
	for flag, d := range map[string]time.Duration{
		"connect-timeout": c.ConnectTimeout, "response-header-timeout": c.ResponseHeaderTimeout,
		"body-timeout": c.BodyTimeout,
	} {
		if d <= 0 {
			bad(flag, "must be positive")
		}
	}
	if c.StaleIfError < 0 {
		bad("stale-if-error", "must not be negative")
	}
	if c.RedisURL != "" {
		// Never quote the URL: it may hold a password. The shared tier parses the rest
		// (addresses, query options) when it starts, with errors that name the flag too.
		switch u, err := url.Parse(c.RedisURL); {
		case err != nil:
			bad("redis-url", "not a URL")
		case !slices.Contains(RedisSchemes(), strings.ToLower(u.Scheme)):
			bad("redis-url", "scheme %q is not one of %s (redis://host:port/db, redis+cluster://host:port?addr=host2:port, redis+sentinel://host:26379?master_name=NAME)",
				u.Scheme, strings.Join(RedisSchemes(), ", "))
		}
	}
	pair := func(certFlag, cert, keyFlag, key string) {
		if cert != "" && key == "" {
			bad(keyFlag, "is required with --%s", certFlag)
		} else if key != "" && cert == "" {
			bad(certFlag, "is required with --%s", keyFlag)
		}
	}
	pair("tls-cert", c.TLSCert, "tls-key", c.TLSKey)
	pair("admin-tls-cert", c.AdminTLSCert, "admin-tls-key", c.AdminTLSKey)
	if _, err := TLSVersion(c.TLSMinVersion); err != nil {
		bad("tls-min-version", "%v", err)
	}
	if c.H2C && c.TLSCert != "" {
		bad("h2c", "is cleartext HTTP/2; with --tls-cert, HTTP/2 is negotiated by ALPN already")
	}
	for flag, list := range map[string][]string{"key-ignore-query": c.KeyIgnoreQuery, "key-only-query": c.KeyOnlyQuery} {
		for _, p := range list {
			if p = strings.TrimSpace(p); p == "" || strings.ContainsAny(p, "&=#?% \t") {
				bad(flag, "%q is not a parameter name pattern (names and *, e.g. utm_*,fbclid)", p)
			}
		}
	}
	for _, p := range c.CompressTypes {
		if !validTypePattern(strings.TrimSpace(p)) {
			bad("compress-types", "%q is not a media type pattern (try text/*, application/json or application/*+xml)", p)
		}
	}
	if c.Compress && len(c.CompressTypes) == 0 {
		bad("compress-types", "is empty; to turn compression off use --compress=false")
	}
	for _, h := range c.TagHeaders {
		if !isTagHeader(h) {
			bad("tag-header", "%q is not one of Cache-Groups, Surrogate-Key, Cache-Tag", h)
		}
	}
	switch c.AccessLogFormat {
	case "text", "json", "combined":
	default:
		bad("access-log-format", "%q is not one of text, json, combined", c.AccessLogFormat)
	}
	if c.AccessLog == "" {
		bad("access-log", `is empty: use "-" for stdout, "off", or a file path`)
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		bad("log-level", "%q is not one of debug, info, warn, error", c.LogLevel)
	}
	return errors.Join(errs...)
}

// TLS reports whether the public listener serves HTTPS.
func (c Config) TLS() bool { return c.TLSCert != "" }

// AdminTLS reports whether the admin listener serves HTTPS.
func (c Config) AdminTLS() bool { return c.AdminTLSCert != "" }

// TLSVersion maps "1.2" or "1.3" to its crypto/tls constant. Older versions are not
// offered: TLS 1.0 and 1.1 are deprecated (RFC 8996).
func TLSVersion(s string) (uint16, error) {
	switch s {
	case "1.2":
		return tls.VersionTLS12, nil
	case "1.3":
		return tls.VersionTLS13, nil
	}
	return 0, fmt.Errorf("%q is not 1.2 or 1.3 (TLS 1.0 and 1.1 are deprecated, RFC 8996)", s)
}

// IsLoopback reports whether host names only this machine.
func IsLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Bytes is a size in bytes that reads and prints human units ("256MiB", "1.5GB", "4096").
// It implements pflag.Value.
type Bytes int64

func (b Bytes) String() string { return humanize.IBytes(uint64(b)) }

// Set parses s as a byte size.
func (b *Bytes) Set(s string) error {
	n, err := humanize.ParseBytes(s)
	if err != nil {
		return fmt.Errorf("%q is not a size (try 256MiB, 1GB or 1048576)", s)
	}
	if n > 1<<50 {
		return fmt.Errorf("%q is too large", s)
	}
	*b = Bytes(n)
	return nil
}

// Type names the value in help text.
func (b *Bytes) Type() string { return "bytes" }

// Trimmed returns list with the space around each member removed ("utm_*, fbclid").
func Trimmed(list []string) []string {
	out := make([]string, 0, len(list))
	for _, s := range list {
		out = append(out, strings.TrimSpace(s))
	}
	return out
}

// validTypePattern accepts "type/subtype", "type/*" and "type/*+suffix".
func validTypePattern(p string) bool {
	typ, sub, ok := strings.Cut(p, "/")
	if !ok || typ == "" || sub == "" || typ == "*" || strings.ContainsAny(p, " \t;,") || strings.Count(p, "/") != 1 {
		return false
	}
	return !strings.Contains(sub, "*") || sub == "*" || (strings.HasPrefix(sub, "*+") && len(sub) > 2 && !strings.Contains(sub[1:], "*"))
}

// isTagHeader reports whether name is a field tags are read from (policy.TagFields).
func isTagHeader(name string) bool {
	for _, f := range []string{"Cache-Groups", "Surrogate-Key", "Cache-Tag"} {
		if strings.EqualFold(name, f) {
			return true
		}
	}
	return false
}

func isPort(s string) bool {
	n, err := strconv.Atoi(s)
	return err == nil && n > 0 && n <= 65535
}

// RedisSchemes are the --redis-url schemes the shared tier takes: the scheme
// decides one server, Cluster or Sentinel (internal/l2 says the same in l2.Schemes;
// a test in cmd/caching-proxy keeps the two lists equal).
func RedisSchemes() []string {
	return []string{"redis", "rediss", "unix", "redis+cluster", "rediss+cluster",
		"redis+sentinel", "rediss+sentinel", "valkey", "valkeys", "valkey+unix",
		"valkey+cluster", "valkeys+cluster", "valkey+sentinel", "valkeys+sentinel"}
}

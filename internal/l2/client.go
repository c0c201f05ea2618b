package l2

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// mode is how the tier reaches Redis. The --redis-url scheme decides it, never the
// number of addresses (go-redis's NewUniversalClient guesses from that, and a
// cluster given one seed address would become a single-node client that fails with
// MOVED on two keys in three).
type mode int

const (
	single   mode = iota // redis://, rediss://, unix://: one server
	cluster              // redis+cluster://: Redis Cluster, keys spread over its masters
	sentinel             // redis+sentinel://: a master that Sentinel fails over
)

func (m mode) String() string {
	return [...]string{"single", "cluster", "sentinel"}[m]
}

// schemes maps every accepted --redis-url scheme to its mode and to the scheme
// go-redis's parser for that mode takes. The valkey spellings are aliases.
var schemes = map[string]struct {
	mode mode
	base string
}{
	"redis": {single, "redis"}, "rediss": {single, "rediss"}, "unix": {single, "unix"},
	"valkey": {single, "redis"}, "valkeys": {single, "rediss"}, "valkey+unix": {single, "unix"},
	"redis+cluster": {cluster, "redis"}, "rediss+cluster": {cluster, "rediss"},
	"valkey+cluster": {cluster, "redis"}, "valkeys+cluster": {cluster, "rediss"},
	"redis+sentinel": {sentinel, "redis"}, "rediss+sentinel": {sentinel, "rediss"},
	"valkey+sentinel": {sentinel, "redis"}, "valkeys+sentinel": {sentinel, "rediss"},
}

// Schemes lists the --redis-url schemes New accepts, for help texts and validation.
func Schemes() []string {
	return []string{"redis", "rediss", "unix", "redis+cluster", "rediss+cluster",
		"redis+sentinel", "rediss+sentinel", "valkey", "valkeys", "valkey+unix",
		"valkey+cluster", "valkeys+cluster", "valkey+sentinel", "valkeys+sentinel"}
}

// endpoint is a parsed --redis-url: the client to use and how to name it in logs.
type endpoint struct {
	mode   mode
	client redis.UniversalClient
	attrs  []any // slog attributes naming the servers, never the password
}

// dial parses raw and makes the client its scheme asks for; it does not connect.
// socketTimeout caps what has no deadline of its own (a dial, a handshake) when the
// URL does not set dial_timeout, read_timeout or write_timeout. Every error names
// --redis-url and never repeats the password.
func dial(raw string, socketTimeout time.Duration) (endpoint, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return endpoint{}, errors.New("--redis-url: not a URL") // url.Error would repeat a password
	}
	s, ok := schemes[strings.ToLower(u.Scheme)]
	if !ok {
		return endpoint{}, fmt.Errorf("--redis-url: unknown scheme %q; want one of %s", u.Scheme, strings.Join(Schemes(), ", "))
	}
	u.Scheme = s.base
	redacted := func(err error) error { return fmt.Errorf("--redis-url: %s", redact(err.Error(), u)) }
	timeouts := func(ds ...*time.Duration) {
		for _, d := range ds {
			if *d == 0 {
				*d = socketTimeout
			}
		}
	}
	switch s.mode {
	case cluster:
		o, err := redis.ParseClusterURL(u.String())
		if err != nil {
			return endpoint{}, redacted(err)
		}
		// Deadlines come from each call's context: short on the request path, longer
		// for queued writes.
		o.ContextTimeoutEnabled = true
		timeouts(&o.DialTimeout, &o.ReadTimeout, &o.WriteTimeout)
		o.DialerRetries = 1 // one dial per call: the probe tries again every second
		return endpoint{cluster, redis.NewClusterClient(o), []any{"redis_cluster", strings.Join(o.Addrs, ",")}}, nil
	case sentinel:
		o, err := redis.ParseFailoverURL(u.String())
		if err != nil {
			return endpoint{}, redacted(err)
		}
		if o.MasterName == "" {
			return endpoint{}, errors.New("--redis-url: a sentinel URL needs master_name=NAME (the name the sentinels monitor)")
		}
		o.ContextTimeoutEnabled = true
		timeouts(&o.DialTimeout, &o.ReadTimeout, &o.WriteTimeout)
		o.DialerRetries = 1
		return endpoint{sentinel, redis.NewFailoverClient(o),
			[]any{"redis_sentinels", strings.Join(o.SentinelAddrs, ","), "redis_master", o.MasterName, "db", o.DB}}, nil
	}
	o, err := redis.ParseURL(u.String())
	if err != nil {
		return endpoint{}, redacted(err)
	}
	o.ContextTimeoutEnabled = true
	timeouts(&o.DialTimeout, &o.ReadTimeout, &o.WriteTimeout)
	o.DialerRetries = 1
	return endpoint{single, redis.NewClient(o), []any{"redis", o.Addr, "db", o.DB}}, nil
}

// redact removes the URL's passwords (user info, ?password=, ?sentinel_password=)
// from msg, in case a parser quoted them.
func redact(msg string, u *url.URL) string {
	pw, _ := u.User.Password()
	q := u.Query()
	for _, p := range []string{pw, url.QueryEscape(pw), url.PathEscape(pw), q.Get("password"), q.Get("sentinel_password")} {
		if p != "" {
			msg = strings.ReplaceAll(msg, p, "xxxxx")
		}
	}
	return msg
}

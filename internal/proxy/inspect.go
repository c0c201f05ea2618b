package proxy

import (
	"errors"
	"net/url"
	"strings"
	"time"

	"github.com/caching-proxy/caching-proxy/internal/policy"
)

// Inspection: what the cache holds for a URL, every variant, and the keys it holds
// under a prefix. ristretto cannot list its keys; the store's index of keys (the one
// purge uses, charged to --cache-size and following every eviction) can. Variants are
// found under their variant index's nonce; entries are read from the store (and the
// shared tier) when asked. The shared tier cannot be listed, so a variant is shown
// when this replica holds it, or its variant index, locally.

// Variant describes one stored response.
type Variant struct {
	Request         map[string]string // the request fields it varies on and their values; absent ones left out
	Vary            []string          // the names of those fields
	Status          int
	StoredAt        time.Time // when its response arrived (or was last refreshed by a 304)
	Age             time.Duration
	Lifetime        time.Duration // freshness lifetime
	TTL             time.Duration // remaining freshness; negative when stale
	Heuristic       bool          // Lifetime comes from Last-Modified
	StaleRevalidate time.Duration
	StaleIfError    time.Duration
	NoCache         bool // must be revalidated before each use
	MustRevalidate  bool // never served stale
	ETag            string
	LastModified    string
	Size            int64    // bytes the store counts for it: body, header and overhead
	BodyBytes       int64    // body bytes
	Tags            []string // Cache-Tag / Surrogate-Key values, when the origin sent them
	Tiers           []string // local, shared: which tier holds it
}

// targetKey turns "/path?query" (or a full URL, whose path and query are used) into
// its cache key, by the operator's key rules as requests are keyed.
func (h *Handler) targetKey(target string) (string, error) {
	if target == "" {
		return "", errors.New("url is required, e.g. url=/path?query")
	}
	u, err := url.Parse(target)
	if err != nil {
		return "", errors.New("url: not a URL or path")
	}
	if !u.IsAbs() && !strings.HasPrefix(u.Path, "/") {
		return "", errors.New("url: must be a path starting with / or an absolute URL")
	}
	u.Scheme, u.Host, u.User, u.Opaque = "", "", nil, ""
	return h.Key(u), nil
}

// Entries reports every stored variant for target (a path and query, as clients send it).
func (h *Handler) Entries(target string) ([]Variant, error) {
	key, err := h.targetKey(target)
	if err != nil {
		return nil, err
	}
	return h.entries(key), nil
}

func (h *Handler) entries(key string) []Variant {
	now := time.Now()
	local, shared := h.peek(key)
	m := local
	if m == nil {
		m = shared
	}
	if m == nil {
		return nil
	}
	if !m.marker {
		return []Variant{describe(m, now, tiers(local != nil, shared != nil))}
	}
	var out []Variant
	prefix := variantKey(key, m.r().nonce, "")
	for _, vk := range h.store.KeysWithPrefix(prefix) {
		l, s := h.peek(vk)
		e := l
		if e == nil {
			e = s
		}
		if e == nil || e.marker {
			continue
		}
		out = append(out, describe(e, now, tiers(l != nil, s != nil)))
	}
	return out
}

// peek reads key from the local store and the shared tier without copying anything
// between them (a lookup would keep a shared entry locally).
func (h *Handler) peek(key string) (local, shared *entry) {
	if e, ok := h.store.Get(key); ok {
		local = e
	}
	if h.opt.Shared != nil {
		if b, ok := h.opt.Shared.Get(key); ok {
			if e, err := decodeEntry(b, ""); err == nil {
				shared = e
			}
		}
	}
	return local, shared
}

func tiers(local, shared bool) []string {
	var t []string
	if local {
		t = append(t, "local")
	}
	if shared {
		t = append(t, "shared")
	}
	return t
}

func describe(e *entry, now time.Time, tiers []string) Variant {
	v := Variant{
		Request: policy.VaryFields(e.r().varyKey, e.r().vary), Vary: e.r().vary, Status: int(e.status),
		StoredAt: e.fresh.Received, Age: e.fresh.Age(now), Lifetime: e.fresh.Lifetime, TTL: e.fresh.TTL(now),
		Heuristic: e.fresh.Heuristic, StaleRevalidate: e.fresh.StaleRevalidate, StaleIfError: e.fresh.StaleIfError,
		NoCache: e.fresh.NoCache, MustRevalidate: e.fresh.MustRevalidate,
		ETag: e.get("Etag"), LastModified: e.get("Last-Modified"),
		Size: e.size, BodyBytes: int64(len(e.body)), Tiers: tiers,
	}
	for _, f := range []string{"Cache-Tag", "Surrogate-Key"} {
		for _, line := range e.values(f) {
			sep := ","
			if f == "Surrogate-Key" {
				sep = " "
			}
			for t := range strings.SplitSeq(line, sep) {
				if t = strings.TrimSpace(t); t != "" {
					v.Tags = append(v.Tags, t)
				}
			}
		}
	}
	return v
}

// Keys lists the primary keys under prefix in key order, at most limit after the key
// after, and reports whether more follow. It reads the store's index, so it lists what
// this replica holds locally; variants are listed under their URL (Entries).
func (h *Handler) Keys(prefix, after string, limit int) (keys []string, more bool) {
	for _, k := range h.store.KeysWithPrefix(prefix) {
		if strings.IndexByte(k, 0) >= 0 || k <= after {
			continue // a variant's key: primary \x00 nonce \x00 secondary
		}
		if _, ok := h.store.Get(k); !ok {
			continue // leaving at this moment
		}
		if len(keys) == limit {
			return keys, true
		}
		keys = append(keys, k)
	}
	return keys, false
}

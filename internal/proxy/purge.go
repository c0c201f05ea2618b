package proxy

import (
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/caching-proxy/caching-proxy/internal/policy"
)

// Purge is one targeted invalidation: stored responses by URL (every Vary variant),
// by literal prefix of the key, or by tag (Cache-Groups, Surrogate-Key, Cache-Tag).
// A hard purge deletes them; a soft one marks them stale as of now and keeps them,
// so the next request revalidates with their validators, or is served stale where
// stale-while-revalidate or stale-if-error allow while one refresh runs.
type Purge struct {
	URLs     []string // cache keys, as PurgeKey returns them
	Prefixes []string // literal prefixes of cache keys (path and query)
	Tags     []string // exact tags
	Soft     bool
}

// Purged is what a purge found: on this replica, and in the shared tier if any.
type Purged struct {
	Entries int64    // responses deleted or marked stale in the local store
	Bytes   int64    // their size
	Keys    []string // the local keys it deleted or marked, variant indexes too
	Shared  *SharedPurged
}

// SharedPurged is what a purge did in the shared tier.
type SharedPurged struct {
	Entries  int64 // entries deleted or marked stale in the shared tier
	Scanning bool  // a prefix purge goes on walking the shared tier in the background
	Err      error // the shared tier could not be reached; other replicas may keep copies
}

// SharedPurger is what a Shared tier offers for targeted invalidation. Tag records
// the tags (and for a Vary variant, the URL) of an entry written with Set, so a purge
// finds it without scanning. Purge applies p to the shared tier and tells every
// other replica to apply it to its own store (PurgeLocal); restale turns a stored
// value into its soft-purged form, false when it is to be left alone.
type SharedPurger interface {
	Tag(key, url string, tags []string, retention time.Duration)
	Purge(p Purge, restale func([]byte) ([]byte, bool)) SharedPurged
}

// Purge kinds and modes, the values of caching_proxy_purges_total's labels.
const (
	kindURL, kindPrefix, kindTag, kindGroup = "url", "prefix", "tag", "group"
	modeHard, modeSoft                      = "hard", "soft"
)

var errBadTarget = errors.New("not a path (/a?b) or an absolute http(s) URL")

// PurgeKey returns the cache key of a URL to purge, normalised as the key of a
// request for it is, so that purging "/a?x=1" finds what GET /a?x=1 stored. An
// absolute URL's scheme and host are dropped: the proxy has one origin.
func PurgeKey(target string) (string, error) {
	if target == "" || strings.ContainsAny(target, " \t\r\n#\x00") {
		return "", errBadTarget
	}
	var u *url.URL
	var err error
	if strings.HasPrefix(target, "/") {
		u, err = url.ParseRequestURI(target)
	} else if u, err = url.Parse(target); err == nil && (u.Scheme != "http" && u.Scheme != "https" || u.Host == "") {
		err = errBadTarget
	}
	if err != nil {
		return "", errBadTarget
	}
	if u.Opaque != "" {
		return "", errBadTarget
	}
	return policy.Key(&url.URL{Path: u.Path, RawPath: u.RawPath, RawQuery: u.RawQuery, ForceQuery: u.ForceQuery}), nil
}

// Purge applies p to this replica and, with a shared tier, to it and every replica.
func (h *Handler) Purge(p Purge) Purged {
	return h.purge(p, "")
}

// purge is Purge; kind, when set, counts every item as that kind (group invalidations).
func (h *Handler) purge(p Purge, kind string) Purged {
	got := h.PurgeLocal(p)
	mode := modeHard
	if p.Soft {
		mode = modeSoft
	}
	count := func(k string, n int) {
		if kind != "" {
			k = kind
		}
		for range n {
			h.m.Purge(k, mode)
		}
	}
	count(kindURL, len(p.URLs))
	count(kindPrefix, len(p.Prefixes))
	count(kindTag, len(p.Tags))
	h.m.PurgedEntries(got.Entries)
	if sp, ok := h.opt.Shared.(SharedPurger); ok {
		sh := sp.Purge(p, h.restaleEncoded)
		got.Shared = &sh
	}
	return got
}

// PurgeLocal applies p to this replica's store only; the shared tier calls it when
// another replica purged.
func (h *Handler) PurgeLocal(p Purge) Purged {
	h.purges.record(p) // first: a fill that misses the walk below sees the record
	seen := map[string]bool{}
	var keys []string
	add := func(ks ...string) {
		for _, k := range ks {
			if !seen[k] {
				seen[k] = true
				keys = append(keys, k)
			}
		}
	}
	for _, u := range p.URLs {
		add(u) // the response, or the variant index of a URL that varies
		add(h.store.KeysWithPrefix(u + "\x00")...)
	}
	for _, pre := range p.Prefixes {
		add(h.store.KeysWithPrefix(pre)...)
	}
	for _, t := range p.Tags {
		add(h.store.KeysWithTag(t)...)
	}
	got := Purged{Keys: keys}
	now := time.Now()
	for _, k := range keys {
		e, ok := h.store.Get(k)
		if ok && !e.marker {
			got.Entries++
			got.Bytes += e.size
		}
		if p.Soft {
			if ok && !e.marker {
				s := e.staleAt(now)
				h.addCodings(s, e) // the same bodies, views as stale as s
				h.store.SetTagged(k, s, s.retention(now, h.opt.StaleIfError), h.tagsOf(s))
			}
			continue
		}
		h.store.Del(k) // gone from lookups at once: ristretto deletes before it queues
		h.flights.forget(k)
	}
	return got
}

// staleAt returns a copy of e that is stale as of now (its lifetime ends at its
// current age); windows past expiry, such as stale-while-revalidate, start now.
func (e *entry) staleAt(now time.Time) *entry {
	s := &entry{
		fields: e.fields, body: e.body, status: e.status, fresh: e.fresh,
		marker: e.marker, size: e.size, tagged: e.tagged, keyLen: e.keyLen, rare: e.rare,
	}
	s.fresh.Lifetime = max(0, min(s.fresh.Lifetime, s.fresh.Age(now)))
	return s
}

// restaleEncoded is staleAt for an entry in the shared tier's encoding.
func (h *Handler) restaleEncoded(b []byte) ([]byte, bool) {
	e, err := decodeEntry(b, "")
	if err != nil || e.marker {
		return nil, false
	}
	return e.staleAt(time.Now()).encode(), true
}

// tagsOf returns the tags a stored response carries in the fields --tag-header names.
func (h *Handler) tagsOf(e *entry) []string {
	if e.marker {
		return nil
	}
	return policy.Tags(e.header(), h.opt.TagFields)
}

// hasTagFields reports whether h holds a field a client must not see (StripTagFields).
func hasTagFields(h http.Header) bool {
	return len(h[policy.SurrogateKey]) > 0 || len(h[policy.CacheTag]) > 0
}

// stripTagFields removes Surrogate-Key and Cache-Tag from a response to a client,
// unless --keep-tag-headers.
func (h *Handler) stripTagFields(hdr http.Header) {
	if !h.opt.KeepTagHeaders {
		delete(hdr, policy.SurrogateKey)
		delete(hdr, policy.CacheTag)
	}
}

// hides reports whether a stored field is left out of responses to clients.
func (h *Handler) hides(e *entry, field string) bool {
	return e.tagged && !h.opt.KeepTagHeaders && policy.StripTagFields(field)
}

// invalidateGroups applies a response's Cache-Group-Invalidation (RFC 9875 §3): a
// successful response to an unsafe method invalidates the stored responses in those
// groups, beside what RFC 9111 §4.4 invalidates.
func (h *Handler) invalidateGroups(method string, resp *http.Response) {
	if groups := policy.InvalidatedGroups(method, resp.StatusCode, resp.Header); len(groups) > 0 {
		h.purge(Purge{Tags: groups}, kindGroup)
	}
}

// fill stores what a fetch or revalidation x brought back, unless a purge that
// matches it happened since x began: a response that was in flight during a purge
// must not come back after it. It reports whether e was stored.
//
// The check runs before and after the write: PurgeLocal records a purge before it
// walks the index, and the write enters the index before the second check, so a
// purge either finds the new entry or is seen by the check.
func (h *Handler) fill(x *exchange, e *entry) bool {
	tags := h.tagsOf(e)
	if h.purges.matchSince(x.began, x.key, tags) {
		return false
	}
	h.put(x.key, e)
	if h.purges.matchSince(x.began, x.key, tags) {
		h.PurgeLocal(Purge{URLs: []string{x.key}})
		if h.opt.Shared != nil {
			h.opt.Shared.Del(x.key)
		}
		return false
	}
	return true
}

// shareTags tells the shared tier the tags of an entry it was given.
func (h *Handler) shareTags(key string, tags []string, keep time.Duration) {
	sp, ok := h.opt.Shared.(SharedPurger)
	if !ok {
		return
	}
	primary, _, variant := strings.Cut(key, "\x00")
	if !variant {
		primary = ""
	}
	if len(tags) > 0 || variant {
		sp.Tag(key, primary, tags, keep)
	}
}

package policy

import (
	"net/http"
	"strings"

	"github.com/dunglas/httpsfv"
)

// Tag fields: the response fields that name the groups (tags) a stored response
// belongs to, so that an operator or the origin can invalidate them together.
const (
	// CacheGroups is RFC 9875's field: a Structured Field List of Strings (§2).
	CacheGroups = "Cache-Groups"
	// CacheGroupInvalidation is RFC 9875's field on a response to an unsafe method
	// that names the groups it invalidates (§3).
	CacheGroupInvalidation = "Cache-Group-Invalidation"
	// SurrogateKey is the Fastly and Souin convention: tags separated by spaces.
	SurrogateKey = "Surrogate-Key"
	// CacheTag is the Cloudflare convention: tags separated by commas.
	CacheTag = "Cache-Tag"
)

// TagFields are the fields Tags reads by default.
var TagFields = []string{CacheGroups, SurrogateKey, CacheTag}

// Limits on what one response may name, so an origin cannot make the index of tags
// grow without bound. RFC 9875 §2 asks for at least 32 groups of 32 characters.
const (
	MaxTags   = 128
	MaxTagLen = 1024
)

// TagField returns the canonical name of a tag field, and whether name is one.
func TagField(name string) (string, bool) {
	for _, f := range TagFields {
		if strings.EqualFold(name, f) {
			return f, true
		}
	}
	return "", false
}

// Tags returns the distinct tags a response names in the given fields (nil means
// TagFields), in the order they appear, at most MaxTags of at most MaxTagLen bytes;
// longer ones are dropped, never cut, so two tags can never merge into one.
// Matching is exact and case-sensitive: a tag is a string, never a pattern.
func Tags(h http.Header, fields []string) []string {
	if fields == nil {
		fields = TagFields
	}
	var tags []string
	add := func(t string) {
		if t == "" || len(t) > MaxTagLen || len(tags) >= MaxTags {
			return
		}
		for _, seen := range tags {
			if seen == t {
				return
			}
		}
		tags = append(tags, t)
	}
	for _, f := range fields {
		vals := h[f]
		if len(vals) == 0 {
			continue
		}
		switch f {
		case CacheGroups:
			for _, g := range Groups(vals) {
				add(g)
			}
		case SurrogateKey:
			for _, v := range vals {
				for _, t := range strings.Fields(v) {
					add(t)
				}
			}
		case CacheTag:
			for _, v := range vals {
				for _, t := range strings.Split(v, ",") {
					add(strings.TrimSpace(t))
				}
			}
		}
	}
	return tags
}

// Groups parses a Cache-Groups or Cache-Group-Invalidation field (RFC 9875 §2, §3):
// a Structured Field List whose String members are group names. Members of other
// types and parameters are ignored; a field that does not parse as a List is
// ignored as a whole (RFC 9651 §4.2), so it names no group.
func Groups(vals []string) []string {
	if len(vals) == 0 {
		return nil
	}
	l, err := httpsfv.UnmarshalList(vals)
	if err != nil {
		return nil
	}
	var groups []string
	for _, m := range l {
		it, ok := m.(httpsfv.Item)
		if !ok {
			continue
		}
		if s, ok := it.Value.(string); ok && s != "" && len(s) <= MaxTagLen && len(groups) < MaxTags {
			groups = append(groups, s)
		}
	}
	return groups
}

// InvalidatedGroups returns the groups a response invalidates (RFC 9875 §3): those in
// its Cache-Group-Invalidation field when it answers an unsafe method with a non-error
// status; none otherwise, since the field is ignored on responses to safe methods.
func InvalidatedGroups(method string, status int, h http.Header) []string {
	if !Invalidates(method, status) {
		return nil
	}
	return Groups(h[CacheGroupInvalidation])
}

// StripTagFields reports whether field is one the cache removes from what clients
// receive unless told to keep it: Surrogate-Key and Cache-Tag address this cache only,
// as at Fastly and Cloudflare. Cache-Groups stays, since RFC 9875 addresses every cache.
func StripTagFields(field string) bool { return field == SurrogateKey || field == CacheTag }

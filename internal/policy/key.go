package policy

import (
	"net/url"
	"slices"
	"strings"
)

// KeyRules are the operator's cache-key rules for query strings (--key-ignore-query,
// --key-only-query, --key-sort-query). They change the key only: the origin still
// receives the request's own query string.
//
// The zero value keeps every key exactly as Key renders it, the target as sent.
type KeyRules struct {
	// IgnoreQuery are glob patterns ("utm_*", "fbclid"): a parameter whose name
	// matches one leaves the key. "*" matches any run of characters; everything else
	// is literal and case-sensitive (query names are, RFC 3986 §6.2.2.1).
	IgnoreQuery []string
	// OnlyQuery, when not empty, is an allow-list of the same patterns: every
	// parameter whose name matches none of them leaves the key.
	OnlyQuery []string
	// SortQuery sorts the parameters by name, so ?b=1&a=2 and ?a=2&b=1 share a key.
	// The values of one name keep their order, which may mean something to the origin.
	SortQuery bool
}

// Active reports whether any rule is set, so keys are normalised rather than used as sent.
func (r KeyRules) Active() bool {
	return len(r.IgnoreQuery) > 0 || len(r.OnlyQuery) > 0 || r.SortQuery
}

// Key is the primary cache key of u under the rules: the one normaliser that every
// user of keys calls (lookups, stores, invalidation by unsafe methods and their
// Location/Content-Location targets, purge, inspection, the shared tier), so a key
// computed anywhere names the same entry.
//
// With no rule set it is Key(u) exactly. With any rule set the target is normalised
// first as RFC 3986 §6.2.2 allows without knowing the origin: hex digits of
// percent-encodings in upper case (§6.2.2.1) and percent-encoded unreserved
// characters decoded (§6.2.2.2); reserved characters stay encoded, since "%26" in a
// value is not "&". Then parameters ("name=value" members between "&"; empty members
// dropped) are filtered by OnlyQuery and IgnoreQuery on their normalised names, and
// sorted when SortQuery is set. A query left empty leaves no "?".
func (r KeyRules) Key(u *url.URL) string {
	k := Key(u)
	if !r.Active() {
		return k
	}
	path, query, hasQuery := strings.Cut(k, "?")
	path = normalizePercent(path)
	if !hasQuery {
		return path
	}
	var params []string
	for _, p := range strings.Split(query, "&") {
		if p == "" {
			continue
		}
		p = normalizePercent(p)
		name, _, _ := strings.Cut(p, "=")
		if len(r.OnlyQuery) > 0 && !matchAny(r.OnlyQuery, name) || matchAny(r.IgnoreQuery, name) {
			continue
		}
		params = append(params, p)
	}
	if len(params) == 0 {
		return path
	}
	if r.SortQuery {
		slices.SortStableFunc(params, func(a, b string) int {
			an, _, _ := strings.Cut(a, "=")
			bn, _, _ := strings.Cut(b, "=")
			return strings.Compare(an, bn)
		})
	}
	return path + "?" + strings.Join(params, "&")
}

// normalizePercent applies RFC 3986 §6.2.2.1 and §6.2.2.2 to s: percent-encoded
// unreserved characters are decoded and the hex digits of the others upper-cased.
// A "%" not followed by two hex digits is left as it is.
func normalizePercent(s string) string {
	if !strings.Contains(s, "%") {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		if s[i] != '%' || i+2 >= len(s) || !isHex(s[i+1]) || !isHex(s[i+2]) {
			b.WriteByte(s[i])
			continue
		}
		c := unhex(s[i+1])<<4 | unhex(s[i+2])
		if isUnreserved(c) {
			b.WriteByte(c)
		} else {
			b.WriteByte('%')
			b.WriteByte(upperHex(s[i+1]))
			b.WriteByte(upperHex(s[i+2]))
		}
		i += 2
	}
	return b.String()
}

// isUnreserved reports whether c is in RFC 3986 §2.3's unreserved set.
func isUnreserved(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
		c == '-' || c == '.' || c == '_' || c == '~'
}

func isHex(c byte) bool { return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F' }

func unhex(c byte) byte {
	switch {
	case c <= '9':
		return c - '0'
	case c <= 'F':
		return c - 'A' + 10
	}
	return c - 'a' + 10
}

func upperHex(c byte) byte {
	if 'a' <= c && c <= 'f' {
		return c - 'a' + 'A'
	}
	return c
}

func matchAny(patterns []string, name string) bool {
	for _, p := range patterns {
		if Glob(p, name) {
			return true
		}
	}
	return false
}

// Glob reports whether name matches pattern, in which "*" matches any run of
// characters (none too) and every other character only itself.
func Glob(pattern, name string) bool {
	// Greedy matching with backtracking to the last star: linear in practice,
	// O(len(pattern)·len(name)) at worst, never exponential.
	p, n, star, mark := 0, 0, -1, 0
	for n < len(name) {
		switch {
		case p < len(pattern) && pattern[p] == '*':
			star, mark = p, n
			p++
		case p < len(pattern) && pattern[p] == name[n]:
			p++
			n++
		case star >= 0:
			p, mark = star+1, mark+1
			n = mark
		default:
			return false
		}
	}
	for p < len(pattern) && pattern[p] == '*' {
		p++
	}
	return p == len(pattern)
}

package policy

import (
	"net/http"
	"strings"

	"github.com/pquerna/cachecontrol/cacheobject"
)

// Directives are the cache directives of a stored response, taken from the targeted
// field that applies to us (CDN-Cache-Control, then Surrogate-Control) or else from
// Cache-Control. MaxAge, SMaxAge, StaleIfError and StaleWhileRevalidate are -1 when absent.
type Directives = cacheobject.ResponseCacheDirectives

// RequestDirectives are the Cache-Control directives of a request.
// MaxAge, MaxStale, MinFresh and StaleIfError are -1 when absent.
type RequestDirectives = cacheobject.RequestCacheDirectives

// targetedFields are the response fields, in order of precedence, whose directives a
// reverse proxy obeys instead of Cache-Control when one is present (RFC 9213 §2.1):
// each as the RFC spells it (what ParseResponse names) and as net/http keys it.
// Every entry but Surrogate-Control is a targeted field in the RFC 9213 sense, parsed
// as a Structured Field Dictionary.
var targetedFields = []struct{ name, key string }{
	{"CDN-Cache-Control", "Cdn-Cache-Control"},
	{"Surrogate-Control", "Surrogate-Control"},
}

// SurrogateToken is the device token the proxy announces in Surrogate-Capability; a
// Surrogate-Control directive suffixed ";token" applies only to the device it names
// (Edge Architecture Specification 1.0).
const SurrogateToken = "caching-proxy"

// SurrogateCapability is the Surrogate-Capability value the proxy adds to requests.
const SurrogateCapability = SurrogateToken + `="Surrogate/1.0"`

// ParseResponse returns the directives that govern a shared reverse-proxy cache for a
// response with header h, and the field they came from. CDN-Cache-Control is a
// Dictionary Structured Field (RFC 9213 §2.1, ParseTargeted); Surrogate-Control keeps
// its own Cache-Control-like syntax (Edge Architecture Specification 1.0).
func ParseResponse(h http.Header) (*Directives, string) {
	for _, f := range targetedFields {
		name := f.name
		lines, ok := h[f.key]
		if !ok || len(lines) == 0 {
			continue
		}
		// RFC 9213 §2.2: a valid targeted field replaces Cache-Control entirely. An
		// empty or invalid one is ignored and the next candidate is tried.
		if name == "Surrogate-Control" {
			if d, n := parseResponseLines(forThisDevice(lines)); n > 0 {
				return d, name
			}
			continue
		}
		if d, ok := ParseTargeted(lines); ok {
			return d, name
		}
	}
	d, _ := parseResponseLines(h["Cache-Control"])
	return d, "Cache-Control"
}

// ParseRequest returns the Cache-Control directives of a request. Pragma: no-cache
// counts as Cache-Control: no-cache when the request has no Cache-Control (RFC 9111 §5.4).
//
// The result must not be modified: a request without Cache-Control or Pragma, the
// common case on the hit path, gets one shared value.
func ParseRequest(h http.Header) *RequestDirectives {
	if len(h["Cache-Control"]) == 0 && len(h["Pragma"]) == 0 {
		return noRequestDirectives
	}
	d, _ := cacheobject.ParseRequestCacheControl("")
	d.StaleIfError = -1
	for _, dir := range splitDirectives(h["Cache-Control"]) {
		if one, err := cacheobject.ParseRequestCacheControl(dir.render()); err == nil {
			mergeRequest(d, one, dir.name)
		}
	}
	if _, has := h["Cache-Control"]; !has {
		for _, dir := range splitDirectives(h["Pragma"]) {
			if dir.name == "no-cache" {
				d.NoCache = true
			}
		}
	}
	return d
}

// noRequestDirectives is what a request without Cache-Control or Pragma asks for: nothing.
var noRequestDirectives = &RequestDirectives{MaxAge: -1, MaxStale: -1, MinFresh: -1, StaleIfError: -1}

// parseResponseLines parses every field line, drops directives the library rejects,
// keeps the first of duplicates (RFC 9111 §4.2.1), and reports how many it kept.
func parseResponseLines(lines []string) (*Directives, int) {
	var kept []string
	seen := map[string]bool{}
	for _, dir := range splitDirectives(lines) {
		r := dir.render()
		if _, err := cacheobject.ParseResponseCacheControl(r); err != nil {
			continue
		}
		if seen[dir.name] && dir.name != "no-cache" && dir.name != "private" {
			continue
		}
		seen[dir.name] = true
		kept = append(kept, r)
	}
	d, err := cacheobject.ParseResponseCacheControl(strings.Join(kept, ", "))
	if err != nil { // each part parsed alone, so this is a bug in rendering
		panic("policy: rendered directives did not parse: " + err.Error())
	}
	if seen["no-cache"] && unqualified(lines, "no-cache") {
		d.NoCache = nil // an unqualified no-cache covers the whole response (§5.2.2.4)
	}
	return d, len(kept)
}

// mergeRequest copies the one directive named name from one into d, first occurrence winning.
func mergeRequest(d, one *RequestDirectives, name string) {
	switch name {
	case "max-age":
		if d.MaxAge < 0 {
			d.MaxAge = one.MaxAge
		}
	case "max-stale":
		if !d.MaxStaleSet {
			d.MaxStale, d.MaxStaleSet = one.MaxStale, true
		}
	case "min-fresh":
		if d.MinFresh < 0 {
			d.MinFresh = one.MinFresh
		}
	case "stale-if-error":
		if d.StaleIfError < 0 {
			d.StaleIfError = one.StaleIfError
		}
	default:
		d.NoCache = d.NoCache || one.NoCache
		d.NoStore = d.NoStore || one.NoStore
		d.NoTransform = d.NoTransform || one.NoTransform
		d.OnlyIfCached = d.OnlyIfCached || one.OnlyIfCached
		d.Extensions = append(d.Extensions, one.Extensions...)
	}
}

// directive is one name[=value] item of a Cache-Control-like list.
type directive struct {
	name   string // lower case
	value  string // unquoted
	hasVal bool
}

// render writes the directive back in a form cacheobject parses, quoting values
// that are not tokens (field-name lists such as no-cache="a, b").
func (d directive) render() string {
	if !d.hasVal {
		return d.name
	}
	if d.value != "" && isToken(d.value) {
		return d.name + "=" + d.value
	}
	return d.name + `="` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(d.value) + `"`
}

// splitDirectives tokenizes the comma-separated lists of all field lines, honouring
// quoted strings (RFC 9110 §5.6.4). Malformed pieces are skipped, never fatal.
func splitDirectives(lines []string) []directive {
	var out []directive
	for _, line := range lines {
		for len(line) > 0 {
			var item string
			item, line = nextItem(line)
			name, value, hasVal := strings.Cut(item, "=")
			name = strings.ToLower(strings.TrimSpace(name))
			if name == "" || !isToken(name) {
				continue
			}
			value = strings.TrimSpace(value)
			if strings.HasPrefix(value, `"`) {
				var ok bool
				if value, ok = unquote(value); !ok {
					continue
				}
			}
			out = append(out, directive{name: name, value: value, hasVal: hasVal})
		}
	}
	return out
}

// nextItem returns the text up to the first comma outside a quoted string, and the rest.
func nextItem(s string) (item, rest string) {
	inQuote := false
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '\\' && inQuote:
			i++
		case c == '"':
			inQuote = !inQuote
		case c == ',' && !inQuote:
			return s[:i], s[i+1:]
		}
	}
	return s, ""
}

// unquote decodes a quoted-string that makes up all of s.
func unquote(s string) (string, bool) {
	if len(s) < 2 || s[0] != '"' || s[len(s)-1] != '"' {
		return "", false
	}
	var b strings.Builder
	for i := 1; i < len(s)-1; i++ {
		c := s[i]
		if c == '\\' {
			i++
			if i >= len(s)-1 {
				return "", false
			}
			c = s[i]
		} else if c == '"' {
			return "", false
		}
		b.WriteByte(c)
	}
	return b.String(), true
}

// isToken reports whether s is an RFC 9110 token.
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte(`"(),/:;<=>?@[\]{}`, c) >= 0 {
			return false
		}
	}
	return true
}

// forThisDevice keeps the Surrogate-Control directives that name no device or name us,
// without their ";device" suffix.
func forThisDevice(lines []string) []string {
	var out []string
	for _, line := range lines {
		for len(line) > 0 {
			var item string
			item, line = nextItem(line)
			item = strings.TrimSpace(item)
			if d, target, found := strings.Cut(item, ";"); found {
				if strings.TrimSpace(target) != SurrogateToken {
					continue
				}
				item = d
			}
			if item != "" {
				out = append(out, item)
			}
		}
	}
	return out
}

// unqualified reports whether the directive name appears without a field list.
func unqualified(lines []string, name string) bool {
	for _, dir := range splitDirectives(lines) {
		if dir.name == name && !dir.hasVal {
			return true
		}
	}
	return false
}

// targeted reports whether h carries a valid targeted field, which replaces both
// Cache-Control and Expires (RFC 9213 §2.1).
func targeted(h http.Header) bool {
	_, source := ParseResponse(h)
	return source != "Cache-Control"
}

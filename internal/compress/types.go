package compress

import (
	"fmt"
	"mime"
	"strings"
)

// Types matches Content-Type values against a list of media-type patterns: "type/sub"
// exactly, "type/*" for any subtype, "type/*+suffix" for a structured suffix (RFC
// 6838 §4.2.8). Matching ignores case and parameters.
type Types struct{ patterns []string }

// ParseTypes validates patterns; each problem names the pattern.
func ParseTypes(patterns []string) (Types, error) {
	t := Types{}
	for _, p := range patterns {
		p = strings.ToLower(strings.TrimSpace(p))
		typ, sub, ok := strings.Cut(p, "/")
		if !ok || typ == "" || sub == "" || typ == "*" || strings.ContainsAny(p, " ;,") ||
			(strings.Contains(sub, "*") && sub != "*" && !strings.HasPrefix(sub, "*+")) {
			return Types{}, fmt.Errorf("%q is not a media type pattern (try text/*, application/json or application/*+xml)", p)
		}
		t.patterns = append(t.patterns, p)
	}
	return t, nil
}

// Match reports whether a Content-Type value is one of the types.
func (t Types) Match(contentType string) bool {
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		return false
	}
	typ, sub, ok := strings.Cut(mt, "/")
	if !ok {
		return false
	}
	for _, p := range t.patterns {
		pt, ps, _ := strings.Cut(p, "/")
		if pt != typ {
			continue
		}
		switch {
		case ps == "*", ps == sub:
			return true
		case strings.HasPrefix(ps, "*+") && strings.HasSuffix(sub, ps[1:]) && len(sub) > len(ps)-1:
			return true
		}
	}
	return false
}

package policy

import (
	"net/http"
	"slices"
	"strings"
)

// knownCodings are the content codings whose acceptance the Accept-Encoding part of a
// secondary key spells out: those the proxy or an origin commonly produces.
var knownCodings = [...]string{"br", "deflate", "gzip", "identity", "zstd"}

// AcceptEncoding is what a request's Accept-Encoding field means (RFC 9110 §12.5.3):
// a weight per named coding and, when "*" is listed, one for every other coding.
type AcceptEncoding struct {
	Present bool                       // the field was sent (an absent field differs from an empty one)
	known   [len(knownCodings)]float64 // weights of knownCodings; -1 when not listed
	others  map[string]float64         // other lower-cased codings -> weight; first listing wins
	star    float64                    // weight of "*"; -1 when not listed
}

// ParseAcceptEncoding reads every Accept-Encoding field line of h. Codings are
// case-insensitive; "x-gzip" and "x-compress" are "gzip" and "compress" (§8.4.1).
// A member with a malformed weight is ignored rather than guessed at. The header
// browsers send is parsed without allocating: it runs on every hit that chooses a coding.
func ParseAcceptEncoding(h http.Header) AcceptEncoding {
	vals, ok := h["Accept-Encoding"]
	a := AcceptEncoding{Present: ok, star: -1}
	for i := range a.known {
		a.known[i] = -1
	}
	for _, line := range vals {
		for line != "" {
			member := line
			if i := strings.IndexByte(line, ','); i >= 0 {
				member, line = line[:i], line[i+1:]
			} else {
				line = ""
			}
			coding, params, _ := strings.Cut(member, ";")
			coding = strings.TrimSpace(coding)
			if coding == "" {
				continue
			}
			q, ok := weight(params)
			if !ok {
				continue
			}
			a.add(coding, q)
		}
	}
	return a
}

// add records the first weight given a coding.
func (a *AcceptEncoding) add(coding string, q float64) {
	if coding == "*" {
		if a.star < 0 {
			a.star = q
		}
		return
	}
	for i, k := range knownCodings {
		if asciiEqualFold(coding, k) {
			if a.known[i] < 0 {
				a.known[i] = q
			}
			return
		}
	}
	coding = asciiLower(coding)
	switch coding {
	case "x-gzip":
		a.add("gzip", q)
		return
	case "x-compress":
		coding = "compress"
	}
	if a.others == nil {
		a.others = map[string]float64{}
	}
	if _, seen := a.others[coding]; !seen {
		a.others[coding] = q
	}
}

// weight reads the q parameter of a member's parameters (RFC 9110 §12.4.2): 1 when
// absent; ok is false for a weight that is not a qvalue.
func weight(params string) (float64, bool) {
	q := 1.0
	for params != "" {
		p := params
		if i := strings.IndexByte(params, ';'); i >= 0 {
			p, params = params[:i], params[i+1:]
		} else {
			params = ""
		}
		name, value, found := strings.Cut(p, "=")
		if !found || !strings.EqualFold(strings.TrimSpace(name), "q") {
			continue // another parameter: not ours to judge
		}
		v := strings.TrimSpace(value)
		if !validQ(v) {
			return 0, false
		}
		q = parseQ(v)
	}
	return q, true
}

// validQ reports whether s is a qvalue: "0" or "1" with up to three decimals, at most 1.
func validQ(s string) bool {
	if s == "" || len(s) > 5 || (s[0] != '0' && s[0] != '1') {
		return false
	}
	if len(s) == 1 {
		return true
	}
	if s[1] != '.' {
		return false
	}
	for _, c := range s[2:] {
		if c < '0' || c > '9' || (s[0] == '1' && c != '0') {
			return false
		}
	}
	return true
}

// parseQ reads a qvalue validQ accepted, without strconv's allocation on error paths.
func parseQ(s string) float64 {
	q := float64(s[0] - '0')
	scale := 0.1
	for i := 2; i < len(s); i++ {
		q += float64(s[i]-'0') * scale
		scale /= 10
	}
	return q
}

// Q returns the weight the request gives a coding; 0 means not acceptable.
// "identity" is acceptable unless excluded by "identity;q=0", or by "*;q=0" with
// no entry of its own (§12.5.3). An empty field accepts identity only.
func (a AcceptEncoding) Q(coding string) float64 {
	for i, k := range knownCodings {
		if asciiEqualFold(coding, k) {
			if a.known[i] >= 0 {
				return a.known[i]
			}
			return a.fallback(k)
		}
	}
	if q, ok := a.others[asciiLower(coding)]; ok {
		return q
	}
	return a.fallback(coding)
}

// fallback is the weight of a coding the field does not name.
func (a AcceptEncoding) fallback(coding string) float64 {
	if a.star >= 0 {
		return a.star
	}
	if coding == "identity" {
		return 1
	}
	return 0
}

// Key renders the set of codings the request accepts, so two requests whose fields
// are spelled differently but accept the same codings share one variant: the known
// codings accepted (with "*" resolved), then other codings named with a weight above
// 0, then "*" when codings nobody named are acceptable too. Weights above 0 do not
// count: a client that accepts a coding can decode it, whichever it prefers.
func (a AcceptEncoding) Key() string {
	var accepted []string
	for _, c := range knownCodings {
		if a.Q(c) > 0 {
			accepted = append(accepted, c)
		}
	}
	var others []string
	for c, q := range a.others {
		if q > 0 {
			others = append(others, c)
		}
	}
	slices.Sort(others)
	accepted = append(accepted, others...)
	if a.star > 0 {
		accepted = append(accepted, "*")
	}
	return strings.Join(accepted, ",")
}

// PreferredEncoding chooses among offered content codings ("identity" for none) the
// one the request weighs highest, earlier offers winning ties, so the caller's order
// is its preference (RFC 9110 §12.5.3). A request without Accept-Encoding gets
// "identity" when it is offered: the RFC lets any coding be sent then, but clients
// that send no field are mostly scripts and tools that would not decode it (nginx and
// Varnish choose the same). ok is false when nothing offered is acceptable.
func PreferredEncoding(h http.Header, offered []string) (coding string, ok bool) {
	a := ParseAcceptEncoding(h)
	if !a.Present {
		if slices.Contains(offered, "identity") {
			return "identity", true
		}
		return "", false
	}
	best := 0.0
	for _, c := range offered {
		if q := a.Q(c); q > best {
			coding, best, ok = c, q, true
		}
	}
	return coding, ok
}

// asciiLower folds A-Z only: content codings are tokens (ASCII), and Unicode case
// mapping would make two different byte strings one coding.
func asciiLower(s string) string {
	return strings.Map(func(r rune) rune {
		if 'A' <= r && r <= 'Z' {
			return r + 'a' - 'A'
		}
		return r
	}, s)
}

// asciiEqualFold reports whether s and lower (lower-case ASCII) are equal ignoring
// ASCII case only.
func asciiEqualFold(s, lower string) bool {
	if len(s) != len(lower) {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != lower[i] {
			return false
		}
	}
	return true
}

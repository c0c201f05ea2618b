package policy

import (
	"net/http"
	"slices"
	"strings"
)

// unordered are request fields whose list order and case carry no meaning, so requests
// that differ only in those share a variant.
var unordered = map[string]bool{"Accept-Language": true, "Accept-Charset": true}

// VaryStar reports whether the response varies on "*", which no later request matches (RFC 9111 §4.1).
func VaryStar(h http.Header) bool {
	for _, name := range VaryNames(h) {
		if name == "*" {
			return true
		}
	}
	return false
}

// VaryNames returns the request field names a response varies on, canonicalized and
// without duplicates, in the order given.
func VaryNames(h http.Header) []string {
	var names []string
	for _, line := range h["Vary"] {
		for _, n := range strings.Split(line, ",") {
			n = strings.TrimSpace(n)
			if n == "" {
				continue
			}
			if n != "*" {
				n = http.CanonicalHeaderKey(n)
			}
			dup := false
			for _, seen := range names {
				dup = dup || seen == n
			}
			if !dup {
				names = append(names, n)
			}
		}
	}
	return names
}

// SecondaryKey renders the values of the named request fields so that two requests
// get the same key exactly when a stored response's Vary matches both (RFC 9111 §4.1).
// Values are normalized the way §4.1 allows: field lines combined, list members
// trimmed of whitespace. An absent field differs from an empty one. Accept-Encoding
// is rendered as the set of codings it accepts (AcceptEncoding.Key).
func SecondaryKey(req http.Header, names []string) string {
	var b strings.Builder
	for _, n := range names {
		b.WriteString(n)
		vals, ok := req[n]
		if !ok {
			b.WriteString("\x00")
			continue
		}
		b.WriteString(":")
		if n == "Accept-Encoding" {
			// What the field means, not how it is spelled: the set of codings it
			// accepts (RFC 9110 §12.5.3), so browsers that accept the same share a variant.
			b.WriteString(ParseAcceptEncoding(req).Key())
			b.WriteString("\n")
			continue
		}
		var members []string
		for _, line := range vals {
			for _, member := range strings.Split(line, ",") {
				members = append(members, normalizeMember(member))
			}
		}
		if unordered[n] {
			// Members of these lists carry their own weights (q=), so their order and
			// the case of their tokens mean nothing (RFC 9110 §12.4.2, §12.5.4).
			for i := range members {
				members[i] = strings.ToLower(members[i])
			}
			slices.Sort(members)
		}
		b.WriteString(strings.Join(members, ","))
		b.WriteString("\n")
	}
	return b.String()
}

// normalizeMember removes the whitespace a list member's syntax makes optional (RFC
// 9110 §5.6.1 OWS around members, §5.6.6 around ";" of parameters) and folds runs of
// spaces and tabs into one space. Other whitespace, and any other character, is content.
func normalizeMember(m string) string {
	var b strings.Builder
	space := false
	for i := 0; i < len(m); i++ {
		c := m[i]
		if c == ' ' || c == '\t' {
			space = true
			continue
		}
		if space && b.Len() > 0 && c != ';' && c != '=' {
			last := b.String()[b.Len()-1]
			if last != ';' && last != '=' {
				b.WriteByte(' ')
			}
		}
		space = false
		b.WriteByte(c)
	}
	return b.String()
}

package policy

import (
	"net/http"
	"strings"
)

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
// trimmed of whitespace. An absent field differs from an empty one.
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
		first := true
		for _, line := range vals {
			for _, member := range strings.Split(line, ",") {
				if !first {
					b.WriteByte(',')
				}
				first = false
				b.WriteString(strings.Join(strings.Fields(member), " "))
			}
		}
		b.WriteString("\n")
	}
	return b.String()
}

package policy

import "strings"

// VaryFields reads back a secondary key (SecondaryKey(req, names)) as the request
// fields it was made of, normalised as the key holds them; a field the request did
// not send is left out. For display: inspection shows which request a variant is for.
func VaryFields(secondary string, names []string) map[string]string {
	if len(names) == 0 {
		return nil
	}
	out := make(map[string]string, len(names))
	rest := secondary
	for _, n := range names {
		if !strings.HasPrefix(rest, n) {
			return out // not a key of these names
		}
		rest = rest[len(n):]
		switch {
		case strings.HasPrefix(rest, "\x00"):
			rest = rest[1:]
		case strings.HasPrefix(rest, ":"):
			v, tail, _ := strings.Cut(rest[1:], "\n")
			out[n], rest = v, tail
		default:
			return out
		}
	}
	return out
}

package policy

import (
	"math"
	"net/http"
	"strings"

	"github.com/dunglas/httpsfv"
	"github.com/pquerna/cachecontrol/cacheobject"
)

// ParseTargeted reads a targeted cache-control field such as CDN-Cache-Control (RFC
// 9213 §2.1): a Dictionary Structured Field (RFC 9651 §3.2), its field lines combined
// (RFC 9651 §4.2). ok is false, and the field is to be ignored as a whole (RFC 9213
// §2.2), when it is empty, does not parse as a Dictionary, or gives a directive the
// cache knows a value of the wrong type (§2.1: "implementations SHOULD NOT consume
// values that violate these inferred constraints"):
//
//   - max-age, s-maxage, stale-while-revalidate, stale-if-error: a non-negative Integer;
//   - no-cache, private: a Boolean, or a String listing field names;
//   - must-revalidate, no-store, no-transform, proxy-revalidate, public, immutable,
//     must-understand: a Boolean (false is as good as absent).
//
// Other directives are kept as extensions whatever their type. Parameters are ignored
// (§2.1). A repeated key keeps its last value, as Dictionaries do (RFC 9651 §4.2.2).
func ParseTargeted(lines []string) (d *Directives, ok bool) {
	dict, err := httpsfv.UnmarshalDictionary(lines)
	if err != nil || len(dict.Names()) == 0 {
		return nil, false
	}
	d = &Directives{MaxAge: -1, SMaxAge: -1, StaleIfError: -1, StaleWhileRevalidate: -1}
	for _, name := range dict.Names() {
		m, _ := dict.Get(name)
		if !applyTargeted(d, name, m) {
			return nil, false
		}
	}
	return d, true
}

// applyTargeted sets the directive name with value m on d; it reports false when a
// known directive has a value of the wrong type.
func applyTargeted(d *Directives, name string, m httpsfv.Member) bool {
	item, isItem := m.(httpsfv.Item)
	var v any
	if isItem {
		v = item.Value
	}
	switch name {
	case "max-age", "s-maxage", "stale-while-revalidate", "stale-if-error":
		n, ok := v.(int64)
		if !isItem || !ok || n < 0 {
			return false
		}
		ds := cacheobject.DeltaSeconds(min(n, math.MaxInt32)) // delta-seconds saturate (RFC 9111 §1.2.2)
		switch name {
		case "max-age":
			d.MaxAge = ds
		case "s-maxage":
			d.SMaxAge = ds
		case "stale-while-revalidate":
			d.StaleWhileRevalidate = ds
		default:
			d.StaleIfError = ds
		}
	case "no-cache", "private":
		var names map[string]bool
		switch v := v.(type) {
		case bool:
			if !isItem {
				return false
			}
			if !v {
				return true
			}
		case string:
			names = fieldNames(v)
		default:
			return false
		}
		if name == "no-cache" {
			d.NoCachePresent, d.NoCache = true, names
		} else {
			d.PrivatePresent, d.Private = true, names
		}
	case "must-revalidate", "no-store", "no-transform", "proxy-revalidate", "public", "immutable", "must-understand":
		on, ok := v.(bool)
		if !isItem || !ok {
			return false
		}
		if !on {
			return true
		}
		switch name {
		case "must-revalidate":
			d.MustRevalidate = true
		case "no-store":
			d.NoStore = true
		case "no-transform":
			d.NoTransform = true
		case "proxy-revalidate":
			d.ProxyRevalidate = true
		case "public":
			d.Public = true
		case "immutable":
			d.Immutable = true
		default:
			d.Extensions = append(d.Extensions, name)
		}
	default:
		d.Extensions = append(d.Extensions, extension(name, m))
	}
	return true
}

// fieldNames reads the field names of a qualified no-cache or private String, a
// comma-separated list (RFC 9111 §5.2.2.4), canonicalized. An empty String names none,
// which leaves the directive unqualified.
func fieldNames(s string) map[string]bool {
	var names map[string]bool
	for _, n := range strings.Split(s, ",") {
		if n = strings.Trim(n, " \t"); n != "" {
			if names == nil {
				names = map[string]bool{}
			}
			names[http.CanonicalHeaderKey(n)] = true
		}
	}
	return names
}

// extension renders an unknown directive as cacheobject does: the name, or name=value
// for a value other than Boolean true, with its parameters dropped.
func extension(name string, m httpsfv.Member) string {
	if item, ok := m.(httpsfv.Item); ok {
		if item.Value == true {
			return name
		}
		m = httpsfv.Item{Value: item.Value, Params: httpsfv.NewParams()}
	} else if il, ok := m.(httpsfv.InnerList); ok {
		m = httpsfv.InnerList{Items: il.Items, Params: httpsfv.NewParams()}
	}
	v, err := httpsfv.Marshal(m)
	if err != nil {
		return name
	}
	return name + "=" + v
}

package policy

import (
	"net/http"
	"net/textproto"
	"strings"
)

// hopByHop are the fields that describe one connection, never stored nor forwarded
// (RFC 9110 §7.6.1), plus the proxy's own per-response fields.
var hopByHop = map[string]bool{
	"Connection": true, "Keep-Alive": true, "Proxy-Connection": true, "Te": true,
	"Trailer": true, "Transfer-Encoding": true, "Upgrade": true,
	"Proxy-Authenticate": true, "Proxy-Authorization": true, "Proxy-Authentication-Info": true,
}

// StoredHeader returns the fields of a response that a cache keeps (RFC 9111 §3.1):
// everything but hop-by-hop fields, fields the Connection field names, the fields a
// qualified private or no-cache directive names (§5.2.2.4, §5.2.2.7: we may store the
// rest when we drop those), and Age, which the cache recomputes on every reuse.
func StoredHeader(h http.Header, d *Directives) http.Header {
	drop := connectionFields(h)
	for name := range d.Private {
		drop[name] = true
	}
	for name := range d.NoCache {
		drop[name] = true
	}
	out := make(http.Header, len(h))
	for name, vals := range h {
		if hopByHop[name] || drop[name] || name == "Age" {
			continue
		}
		out[name] = vals
	}
	return out
}

// connectionFields returns the fields named in Connection, canonicalized.
func connectionFields(h http.Header) map[string]bool {
	names := map[string]bool{}
	for _, line := range h["Connection"] {
		for _, n := range strings.Split(line, ",") {
			if n = strings.TrimSpace(n); n != "" {
				names[textproto.CanonicalMIMEHeaderKey(n)] = true
			}
		}
	}
	return names
}

// describesBody are the fields a 304 (or a HEAD response, RFC 9111 §4.3.5) does not
// replace in a stored response, besides those §3.1 never stores (hop-by-hop fields,
// Transfer-Encoding among them). RFC 9111 §3.2 names Content-Length, and excepts the
// fields "that the cache's stored response depends upon": we keep the body as it was
// received, so every field that describes those bytes stays with them:
//
//   - Content-Length (§3.2, named): the stored body's length;
//   - Content-Encoding: the coding the stored bytes are in (§3.2's own example);
//   - Content-Range: which bytes of the representation a stored 206 holds (§3.4);
//   - Content-MD5 (RFC 1864), Content-Digest, Repr-Digest (RFC 9530 §2, §3) and
//     Digest (RFC 3230): digests computed over the stored bytes;
//   - ETag: a 304 updates only the stored response its validator selects (§4.3.4),
//     and ours was selected by its own ETag; a different one would name another
//     representation, whose body we do not have.
var describesBody = map[string]bool{
	"Content-Length": true, "Content-Encoding": true, "Content-Range": true,
	"Content-Md5": true, "Content-Digest": true, "Repr-Digest": true, "Digest": true,
	"Etag": true,
}

// Refresh returns the stored header updated from a 304 (or HEAD) response (RFC 9111
// §3.2, §4.3.4): each field the new response carries replaces the stored one, except
// those §3.1 never stores and those that describe the stored body.
func Refresh(stored, fresh http.Header) http.Header {
	out := make(http.Header, len(stored)+len(fresh))
	for name, vals := range stored {
		out[name] = vals
	}
	drop := connectionFields(fresh)
	for name, vals := range fresh {
		if hopByHop[name] || drop[name] || name == "Age" || describesBody[name] {
			continue
		}
		out[name] = vals
	}
	// The updated response's own private="F" / no-cache="F" name fields not to keep.
	d, _ := ParseResponse(out)
	for name := range d.Private {
		delete(out, name)
	}
	for name := range d.NoCache {
		delete(out, name)
	}
	return out
}

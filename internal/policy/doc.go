// Package policy decides, from headers and times alone, whether a shared cache may
// store a response, how long it stays fresh, how old it is, and whether a stored
// response may answer a request (RFC 9111). No I/O and no clock: callers pass now.
//
// Cache-Control is parsed by github.com/pquerna/cachecontrol (package cacheobject).
// That library implements RFC 7234 and has gaps this package closes: it reads only
// the first Cache-Control field line, fails the whole header on one bad directive,
// lets a later duplicate win, ignores Age, and knows nothing of the targeted fields
// CDN-Cache-Control (RFC 9213) and Surrogate-Control. CDN-Cache-Control is a
// Structured Field Dictionary, parsed by github.com/dunglas/httpsfv (ParseTargeted).
// HTTP-dates are read by ParseHTTPDate, by the RFC 9110 grammar. See docs/policy.md.
package policy

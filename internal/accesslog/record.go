// Package accesslog formats and writes one line per request from a Record the proxy
// hands it: JSON, Apache/nginx combined (with the cache fields appended, as nginx's
// $upstream_cache_status is), or a short text line for a person at a terminal.
// Lines go through a bounded buffer written by one goroutine, so a slow disk never
// holds a request: when the buffer is full a line is dropped and counted (Dropped).
// A file is reopened on Reopen (SIGHUP, logrotate's convention) without losing a line.
// It knows nothing of HTTP caching: the proxy decides every value.
package accesslog

import (
	"fmt"
	"strings"
	"time"
)

// Record is what one request did. Empty strings and zero numbers are left out of
// the JSON line and written as "-" in the others.
type Record struct {
	Time         time.Time     // when the request arrived
	Client       string        // client address (host, without port)
	Method       string        // request method
	Target       string        // request target as sent (path and query)
	Proto        string        // HTTP/1.1, HTTP/2.0
	Status       int           // status sent to the client
	Bytes        int64         // body bytes sent to the client
	Duration     time.Duration // from arrival to the last byte written
	Cache        string        // hit, miss, stale, revalidated, bypass
	Detail       string        // why not stored or not reused: the Cache-Status detail
	Stored       bool          // the response was stored
	Tier         string        // which tier answered: local, shared or origin
	OriginStatus int           // the origin's status when it was asked; 0 when not
	OriginTime   time.Duration // time to the origin's response header when it was asked
	UserAgent    string
	Referer      string
	TraceID      string // hex trace id when tracing is on
}

// Format is a line format.
type Format int

const (
	Text     Format = iota // one short line for a person: time, status, outcome, method, target, ...
	JSON                   // one JSON object per line
	Combined               // Apache/nginx combined, then cache fields as key=value pairs
)

var formatNames = [...]string{Text: "text", JSON: "json", Combined: "combined"}

func (f Format) String() string { return formatNames[f] }

// ParseFormat reads a format name: json, combined or text.
func ParseFormat(s string) (Format, error) {
	for i, n := range formatNames {
		if n == s {
			return Format(i), nil
		}
	}
	return 0, fmt.Errorf("%q is not one of %s", s, strings.Join(formatNames[:], ", "))
}

// Append appends r's line in format f, with its final newline, to b.
func (f Format) Append(b []byte, r *Record) []byte {
	switch f {
	case JSON:
		return appendJSON(b, r)
	case Combined:
		return appendCombined(b, r)
	}
	return appendText(b, r)
}

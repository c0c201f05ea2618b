package accesslog

import (
	"strconv"
	"time"
	"unicode/utf8"
)

// appendJSON writes one JSON object. Keys are fixed; absent values are left out.
func appendJSON(b []byte, r *Record) []byte {
	b = append(b, `{"time":"`...)
	b = appendRFC3339Millis(b, r.Time)
	b = append(b, '"')
	b = jsonField(b, "client", r.Client)
	b = jsonField(b, "method", r.Method)
	b = jsonField(b, "target", r.Target)
	b = jsonField(b, "proto", r.Proto)
	b = append(b, `,"status":`...)
	b = strconv.AppendInt(b, int64(r.Status), 10)
	b = append(b, `,"bytes":`...)
	b = strconv.AppendInt(b, r.Bytes, 10)
	b = append(b, `,"duration_ms":`...)
	b = appendMillis(b, r.Duration)
	b = jsonField(b, "cache", r.Cache)
	b = jsonField(b, "detail", r.Detail)
	if r.Stored {
		b = append(b, `,"stored":true`...)
	}
	b = jsonField(b, "tier", r.Tier)
	if r.OriginStatus != 0 {
		b = append(b, `,"origin_status":`...)
		b = strconv.AppendInt(b, int64(r.OriginStatus), 10)
		b = append(b, `,"origin_ms":`...)
		b = appendMillis(b, r.OriginTime)
	}
	b = jsonField(b, "user_agent", r.UserAgent)
	b = jsonField(b, "referer", r.Referer)
	b = jsonField(b, "trace_id", r.TraceID)
	return append(b, "}\n"...)
}

func jsonField(b []byte, name, v string) []byte {
	if v == "" {
		return b
	}
	b = append(b, ',', '"')
	b = append(b, name...)
	b = append(b, '"', ':')
	return appendJSONString(b, v)
}

const hex = "0123456789abcdef"

// appendJSONString quotes s as a JSON string; invalid UTF-8 becomes U+FFFD. Runs of
// bytes that need no escaping are copied whole.
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' && c < 0x7f {
			i++
			continue
		}
		if c >= utf8.RuneSelf {
			r, n := utf8.DecodeRuneInString(s[i:])
			if r != utf8.RuneError || n != 1 {
				i += n
				continue
			}
		}
		b = append(b, s[start:i]...)
		switch {
		case c == '"' || c == '\\':
			b = append(b, '\\', c)
		case c < utf8.RuneSelf:
			b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
		default:
			b = append(b, `\ufffd`...)
		}
		i++
		start = i
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// appendRFC3339Millis writes t in UTC as 2006-01-02T15:04:05.000Z, without the
// general layout interpreter.
func appendRFC3339Millis(b []byte, t time.Time) []byte {
	t = t.UTC()
	y, mo, d := t.Date()
	h, mi, sec := t.Clock()
	b = appendPad(b, y, 4)
	b = append(b, '-')
	b = appendPad(b, int(mo), 2)
	b = append(b, '-')
	b = appendPad(b, d, 2)
	b = append(b, 'T')
	b = appendPad(b, h, 2)
	b = append(b, ':')
	b = appendPad(b, mi, 2)
	b = append(b, ':')
	b = appendPad(b, sec, 2)
	b = append(b, '.')
	b = appendPad(b, t.Nanosecond()/1e6, 3)
	return append(b, 'Z')
}

func appendPad(b []byte, n, width int) []byte {
	var buf [8]byte
	i := len(buf)
	for ; n > 0 || i > len(buf)-width; n /= 10 {
		i--
		buf[i] = byte('0' + n%10)
	}
	return append(b, buf[i:]...)
}

// appendCombined writes the Apache/nginx combined format, then the cache fields as
// key=value pairs, the way nginx configurations append $upstream_cache_status:
//
//	127.0.0.1 - - [02/Dec/2026:06:04:34 +0000] "GET /a HTTP/1.1" 200 5 "-" "curl/8.5.0" cache=hit tier=local ...
func appendCombined(b []byte, r *Record) []byte {
	b = appendEscaped(b, r.Client)
	b = append(b, " - - ["...)
	b = r.Time.AppendFormat(b, "02/Jan/2006:15:04:05 -0700")
	b = append(b, `] "`...)
	b = appendEscaped(b, r.Method)
	b = append(b, ' ')
	b = appendEscaped(b, r.Target)
	b = append(b, ' ')
	b = appendEscaped(b, r.Proto)
	b = append(b, `" `...)
	b = strconv.AppendInt(b, int64(r.Status), 10)
	b = append(b, ' ')
	if r.Bytes > 0 {
		b = strconv.AppendInt(b, r.Bytes, 10)
	} else {
		b = append(b, '-') // %b: no body
	}
	b = append(b, ` "`...)
	b = appendEscaped(b, r.Referer)
	b = append(b, `" "`...)
	b = appendEscaped(b, r.UserAgent)
	b = append(b, `" cache=`...)
	b = appendEscaped(b, r.Cache)
	b = append(b, " tier="...)
	b = appendEscaped(b, r.Tier)
	b = append(b, " detail="...)
	b = appendEscaped(b, r.Detail)
	b = append(b, " stored="...)
	b = strconv.AppendBool(b, r.Stored)
	b = append(b, " origin_status="...)
	if r.OriginStatus != 0 {
		b = strconv.AppendInt(b, int64(r.OriginStatus), 10)
		b = append(b, " origin_ms="...)
		b = appendMillis(b, r.OriginTime)
	} else {
		b = append(b, "- origin_ms=-"...)
	}
	b = append(b, " duration_ms="...)
	b = appendMillis(b, r.Duration)
	b = append(b, " trace_id="...)
	b = appendEscaped(b, r.TraceID)
	return append(b, '\n')
}

// appendEscaped writes s as nginx does in its logs: "-" when empty, and bytes that
// would break a field (quote, backslash, control, non-ASCII) as \xHH.
func appendEscaped(b []byte, s string) []byte {
	if s == "" {
		return append(b, '-')
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '"' || c == '\\' || c < 0x21 || c > 0x7e {
			b = append(b, '\\', 'x', hex[c>>4], hex[c&0xf])
			continue
		}
		b = append(b, c)
	}
	return b
}

// appendText writes one short line for a person at a terminal:
//
//	06:04:34.123 127.0.0.1 GET /a 200 miss stored 1204B 12.40ms origin 200 in 12.10ms
//	06:04:35.002 127.0.0.1 GET /a 200 hit local 1204B 0.08ms
//	06:04:36.311 127.0.0.1 GET /me 200 miss (private) 54B 30.02ms origin 200 in 29.87ms
func appendText(b []byte, r *Record) []byte {
	b = r.Time.AppendFormat(b, "15:04:05.000")
	b = append(b, ' ')
	b = appendEscaped(b, r.Client)
	b = append(b, ' ')
	b = appendEscaped(b, r.Method)
	b = append(b, ' ')
	b = appendEscaped(b, r.Target)
	b = append(b, ' ')
	b = strconv.AppendInt(b, int64(r.Status), 10)
	b = append(b, ' ')
	b = appendEscaped(b, r.Cache)
	if r.Stored {
		b = append(b, " stored"...)
	}
	if r.Detail != "" {
		b = append(b, " ("...)
		b = appendEscaped(b, r.Detail)
		b = append(b, ')')
	}
	if r.Tier != "" && r.Tier != "origin" {
		b = append(b, ' ')
		b = appendEscaped(b, r.Tier)
	}
	b = append(b, ' ')
	b = strconv.AppendInt(b, r.Bytes, 10)
	b = append(b, "B "...)
	b = appendMillis(b, r.Duration)
	b = append(b, "ms"...)
	if r.OriginStatus != 0 {
		b = append(b, " origin "...)
		b = strconv.AppendInt(b, int64(r.OriginStatus), 10)
		b = append(b, " in "...)
		b = appendMillis(b, r.OriginTime)
		b = append(b, "ms"...)
	}
	if r.TraceID != "" {
		b = append(b, " trace="...)
		b = appendEscaped(b, r.TraceID)
	}
	return append(b, '\n')
}

// appendMillis writes d in milliseconds with two decimals (10 µs resolution).
func appendMillis(b []byte, d time.Duration) []byte {
	if d < 0 {
		b, d = append(b, '-'), -d
	}
	n := int64(d.Round(10*time.Microsecond) / (10 * time.Microsecond)) // hundredths of a millisecond
	b = strconv.AppendInt(b, n/100, 10)
	return append(b, '.', byte('0'+n/10%10), byte('0'+n%10))
}

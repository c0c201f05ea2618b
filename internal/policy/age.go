package policy

import (
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// ParseAge returns the value of the Age field (RFC 9111 §5.1) and whether it is valid.
// Age is a single delta-seconds: several field lines, a list, a sign, a fraction or a
// parameter make it invalid. A value too large to represent saturates at 2^31 seconds
// (§1.2.2).
func ParseAge(h http.Header) (time.Duration, bool) {
	v := h["Age"]
	if len(v) != 1 {
		return 0, false
	}
	s := strings.TrimSpace(v[0])
	if s == "" {
		return 0, false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n > math.MaxInt32 {
		n = math.MaxInt32 + 1
	}
	return seconds(n), true
}

// untrustedAge is the age given to a response whose Age field is invalid: an upstream cache
// sent something we cannot trust, so the response is treated as stale.
const untrustedAge = (math.MaxInt32 + 1) * time.Second

// InitialAge is the corrected initial age of a response when it reached the cache
// (RFC 9111 §4.2.3): the larger of its apparent age from Date and its Age field
// plus the time the request took. An invalid Age makes the response stale.
func InitialAge(h http.Header, requested, received time.Time) time.Duration {
	if _, present := h["Age"]; present {
		if _, ok := ParseAge(h); !ok {
			return untrustedAge
		}
	}
	apparent := time.Duration(0)
	if date, ok := parseDate(h, "Date"); ok {
		apparent = max(0, received.Sub(date))
	}
	ageValue, _ := ParseAge(h)
	corrected := addSat(ageValue, max(0, received.Sub(requested)))
	return max(apparent, corrected)
}

// CurrentAge is how old a stored response is now (RFC 9111 §4.2.3).
func CurrentAge(initial time.Duration, received, now time.Time) time.Duration {
	return addSat(initial, max(0, now.Sub(received)))
}

// addSat adds two non-negative durations, saturating instead of wrapping negative.
func addSat(a, b time.Duration) time.Duration {
	if a > math.MaxInt64-b {
		return math.MaxInt64
	}
	return a + b
}

// AgeValue renders an age for the Age field: whole seconds, rounded down.
func AgeValue(age time.Duration) string {
	return strconv.FormatInt(int64(age/time.Second), 10)
}

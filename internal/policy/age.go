package policy

import (
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// ParseAge returns the value of the Age field (RFC 9111 §5.1) and whether it is valid.
// A list-based value (a comma-separated list, or several field lines, which are one
// list, RFC 9110 §5.3) counts by its first member, the rest discarded. That member must
// be delta-seconds, 1*DIGIT (§1.2.2): a sign, a fraction, a parameter, letters or an
// empty member make the field invalid. A value too large to represent saturates at
// 2^31 seconds (§1.2.2).
func ParseAge(h http.Header) (time.Duration, bool) {
	v := h["Age"]
	if len(v) == 0 {
		return 0, false
	}
	s, _, _ := strings.Cut(v[0], ",")
	s = strings.Trim(s, " \t")
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

// InitialAge is the corrected initial age of a response when it reached the cache
// (RFC 9111 §4.2.3): the larger of its apparent age from Date and its Age field
// plus the time the request took. An invalid Age is ignored (§5.1): the response
// counts as if it had none.
func InitialAge(h http.Header, requested, received time.Time) time.Duration {
	apparent := time.Duration(0)
	if date, ok := parseDate(h, "Date", received); ok {
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

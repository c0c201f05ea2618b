package policy

import (
	"net/http"
	"strings"
	"time"
)

// ParseHTTPDate parses an HTTP-date by the grammar of RFC 9110 §5.6.7: IMF-fixdate
// ("Sun, 06 Nov 1994 08:49:37 GMT") and the two obsolete forms a recipient must
// accept, rfc850-date ("Sunday, 06-Nov-94 08:49:37 GMT") and asctime-date
// ("Sun Nov  6 08:49:37 1994"). Separators are exactly as the grammar has them
// (single spaces, ",", "-", ":"), days, hours, minutes and seconds have two digits
// (asctime's day may be a space and one digit) and the zone is GMT; anything else is
// invalid. Day names, month names and "GMT" are matched without regard to case, as
// robust recipients do (§5.6.7 asks recipients to be robust; the case-sensitive
// grammar binds senders). The day name is not checked against the date.
//
// A two-digit rfc850 year is the year with those digits closest to now that is not
// more than 50 years after it (§5.6.7).
func ParseHTTPDate(s string, now time.Time) (time.Time, bool) {
	if t, ok := parseIMFFixdate(s); ok {
		return t, true
	}
	if t, ok := parseRFC850(s, now); ok {
		return t, true
	}
	return parseASCTime(s)
}

// parseIMFFixdate: day-name "," SP day SP month SP year SP time-of-day SP "GMT".
func parseIMFFixdate(s string) (time.Time, bool) {
	// "Sun, 06 Nov 1994 08:49:37 GMT" is exactly 29 bytes.
	if len(s) != 29 || s[3] != ',' || s[4] != ' ' || s[7] != ' ' || s[11] != ' ' || s[16] != ' ' || s[25] != ' ' {
		return time.Time{}, false
	}
	if !dayName(s[:3]) || !strings.EqualFold(s[26:], "GMT") {
		return time.Time{}, false
	}
	day, ok1 := digits(s[5:7])
	month, ok2 := monthName(s[8:11])
	year, ok3 := digits(s[12:16])
	if !ok1 || !ok2 || !ok3 {
		return time.Time{}, false
	}
	return civil(year, month, day, s[17:25])
}

// parseRFC850: day-name-l "," SP day "-" month "-" 2DIGIT SP time-of-day SP "GMT".
func parseRFC850(s string, now time.Time) (time.Time, bool) {
	name, rest, found := strings.Cut(s, ", ")
	// rest is "06-Nov-94 08:49:37 GMT", 22 bytes.
	if !found || !longDayName(name) || len(rest) != 22 || rest[2] != '-' || rest[6] != '-' || rest[9] != ' ' || rest[18] != ' ' {
		return time.Time{}, false
	}
	if !strings.EqualFold(rest[19:], "GMT") {
		return time.Time{}, false
	}
	day, ok1 := digits(rest[:2])
	month, ok2 := monthName(rest[3:6])
	yy, ok3 := digits(rest[7:9])
	if !ok1 || !ok2 || !ok3 {
		return time.Time{}, false
	}
	// §5.6.7: a year that appears to be more than 50 years in the future is the most
	// recent past year with the same last two digits.
	ref := now.UTC().Year()
	year := ref - ref%100 + yy
	if year > ref+50 {
		year -= 100
	} else if year <= ref-50 {
		year += 100
	}
	return civil(year, month, day, rest[10:18])
}

// parseASCTime: day-name SP month SP ( 2DIGIT / ( SP DIGIT ) ) SP time-of-day SP year.
func parseASCTime(s string) (time.Time, bool) {
	// "Sun Nov  6 08:49:37 1994" is exactly 24 bytes.
	if len(s) != 24 || s[3] != ' ' || s[7] != ' ' || s[10] != ' ' || s[19] != ' ' {
		return time.Time{}, false
	}
	if !dayName(s[:3]) {
		return time.Time{}, false
	}
	month, ok1 := monthName(s[4:7])
	d := s[8:10]
	if d[0] == ' ' {
		d = d[1:]
	}
	day, ok2 := digits(d)
	year, ok3 := digits(s[20:])
	if !ok1 || !ok2 || !ok3 {
		return time.Time{}, false
	}
	return civil(year, month, day, s[11:19])
}

// civil builds the UTC time of a date and an "HH:MM:SS" time-of-day, rejecting days
// the month does not have and hours, minutes or seconds out of range (a second of
// 60 is a leap second, §5.6.7, and rolls into the next minute).
func civil(year int, month time.Month, day int, tod string) (time.Time, bool) {
	if len(tod) != 8 || tod[2] != ':' || tod[5] != ':' {
		return time.Time{}, false
	}
	hour, ok1 := digits(tod[:2])
	minute, ok2 := digits(tod[3:5])
	second, ok3 := digits(tod[6:])
	if !ok1 || !ok2 || !ok3 || hour > 23 || minute > 59 || second > 60 {
		return time.Time{}, false
	}
	if day < 1 || day > time.Date(year, month+1, 0, 0, 0, 0, 0, time.UTC).Day() {
		return time.Time{}, false
	}
	return time.Date(year, month, day, hour, minute, second, 0, time.UTC), true
}

// digits reads a string of ASCII digits, nothing else.
func digits(s string) (int, bool) {
	if s == "" {
		return 0, false
	}
	n := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, true
}

var (
	dayNames     = []string{"Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"}
	longDayNames = []string{"Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"}
	monthNames   = []string{"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"}
)

func dayName(s string) bool     { return oneOf(s, dayNames) >= 0 }
func longDayName(s string) bool { return oneOf(s, longDayNames) >= 0 }

func monthName(s string) (time.Month, bool) {
	i := oneOf(s, monthNames)
	return time.Month(i + 1), i >= 0
}

func oneOf(s string, names []string) int {
	for i, n := range names {
		if strings.EqualFold(s, n) {
			return i
		}
	}
	return -1
}

// parseDate reads a date field of h (Date, Expires, Last-Modified, If-Modified-Since);
// ok is false when it is absent or invalid. These fields are singletons, so more than
// one field line is invalid (RFC 9110 §5.3, RFC 9111 §5.3). now is the reference for
// two-digit years.
func parseDate(h http.Header, name string, now time.Time) (time.Time, bool) {
	v := h[name]
	if len(v) != 1 {
		return time.Time{}, false
	}
	return ParseHTTPDate(strings.Trim(v[0], " \t"), now)
}

package policy

import (
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestParseHTTPDate(t *testing.T) {
	now := t0 // 2024: two-digit rfc850 years resolve around it
	date := func(y int, m time.Month, d, hh, mm, ss int) time.Time {
		return time.Date(y, m, d, hh, mm, ss, 0, time.UTC)
	}
	nov6 := date(1994, time.November, 6, 8, 49, 37)
	tests := []struct {
		name   string
		in     string
		want   time.Time
		wantOK bool
	}{
		// RFC 9110 §5.6.7: IMF-fixdate, and the two obsolete forms a recipient MUST accept.
		{"IMF-fixdate", "Sun, 06 Nov 1994 08:49:37 GMT", nov6, true},
		{"rfc850-date", "Sunday, 06-Nov-94 08:49:37 GMT", nov6, true},
		{"asctime-date, one-digit day", "Sun Nov  6 08:49:37 1994", nov6, true},
		{"asctime-date, two-digit day", "Thu Aug 18 02:01:18 2050", date(2050, time.August, 18, 2, 1, 18), true},
		{"asctime-date as in http-cache-tests", "Thu Aug  8 02:01:18 2050", date(2050, time.August, 8, 2, 1, 18), true},
		{"far future", "Sun, 21 Nov 2286 04:46:39 GMT", date(2286, time.November, 21, 4, 46, 39), true},
		{"past 2^31 seconds", "Tue, 19 Jan 2038 03:14:08 GMT", date(2038, time.January, 19, 3, 14, 8), true},
		{"end of a leap February", "Thu, 29 Feb 2024 23:59:59 GMT", date(2024, time.February, 29, 23, 59, 59), true},
		// §5.6.7: a leap second, 23:59:60, is in the grammar's range.
		{"leap second", "Sat, 31 Dec 2016 23:59:60 GMT", date(2017, time.January, 1, 0, 0, 0), true},
		// §5.6.7: a two-digit year more than 50 years ahead is the most recent past one.
		{"rfc850 year 50 ahead", "Thursday, 18-Aug-50 02:01:18 GMT", date(2050, time.August, 18, 2, 1, 18), true},
		{"rfc850 year past 50 ahead is last century", "Sunday, 18-Aug-75 02:01:18 GMT", date(1975, time.August, 18, 2, 1, 18), true},
		{"rfc850 year of this century", "Friday, 01-Mar-24 12:00:00 GMT", t0, true},
		// §5.6.7 recipients are robust: letter case in names is no reason to reject.
		{"upper-case day name", "THU, 18 Aug 2050 02:01:18 GMT", date(2050, time.August, 18, 2, 1, 18), true},
		{"upper-case month", "Thu, 18 AUG 2050 02:01:18 GMT", date(2050, time.August, 18, 2, 1, 18), true},
		{"mixed-case GMT", "Thu, 18 Aug 2050 02:01:18 gMT", date(2050, time.August, 18, 2, 1, 18), true},
		{"lower-case long day name", "sunday, 06-nov-94 08:49:37 gmt", nov6, true},
		{"day name is not checked against the date", "Mon, 06 Nov 1994 08:49:37 GMT", nov6, true},
		// §5.6.7: anything off the grammar is not an HTTP-date (RFC 9111 §5.3: so an
		// Expires with it has already expired).
		{"zero", "0", time.Time{}, false},
		{"empty", "", time.Time{}, false},
		{"UTC is not GMT", "Thu, 18 Aug 2050 02:01:18 UTC", time.Time{}, false},
		{"other zone", "Thu, 18 Aug 2050 02:01:18 AEST", time.Time{}, false},
		{"numeric zone", "Thu, 18 Aug 2050 02:01:18 +0000", time.Time{}, false},
		{"two-digit year in IMF-fixdate", "Thu, 18 Aug 50 02:01:18 GMT", time.Time{}, false},
		{"no comma", "Thu 18 Aug 2050 02:01:18 GMT", time.Time{}, false},
		{"no comma, as in http-cache-tests 32bit", "Tue 19 Jan 2038 14:14:08 GMT", time.Time{}, false},
		{"double spaces", "Thu, 18  Aug  2050 02:01:18 GMT", time.Time{}, false},
		{"dashes in IMF-fixdate", "Thu, 18-Aug-2050 02:01:18 GMT", time.Time{}, false},
		{"periods in the time", "Thu, 18 Aug 2050 02.01.18 GMT", time.Time{}, false},
		{"one-digit hour", "Thu, 18 Aug 2050 2:01:18 GMT", time.Time{}, false},
		{"one-digit day in IMF-fixdate", "Thu, 8 Aug 2050 02:01:18 GMT", time.Time{}, false},
		{"one-digit minute", "Thu, 18 Aug 2050 02:1:18 GMT", time.Time{}, false},
		{"three-letter day in rfc850", "Sun, 06-Nov-94 08:49:37 GMT", time.Time{}, false},
		{"long day in IMF-fixdate", "Sunday, 06 Nov 1994 08:49:37 GMT", time.Time{}, false},
		{"four-digit year in rfc850", "Sunday, 06-Nov-1994 08:49:37 GMT", time.Time{}, false},
		{"asctime with a zero-padded day", "Sun Nov 06 08:49:37 1994", nov6, true},
		{"asctime with a single space before a one-digit day", "Sun Nov 6 08:49:37 1994", time.Time{}, false},
		{"asctime with a zone", "Sun Nov  6 08:49:37 1994 GMT", time.Time{}, false},
		{"trailing junk", "Sun, 06 Nov 1994 08:49:37 GMT x", time.Time{}, false},
		{"leading space", " Sun, 06 Nov 1994 08:49:37 GMT", time.Time{}, false},
		{"unknown day name", "Sux, 06 Nov 1994 08:49:37 GMT", time.Time{}, false},
		{"unknown month", "Sun, 06 Nox 1994 08:49:37 GMT", time.Time{}, false},
		{"hour 24", "Sun, 06 Nov 1994 24:00:00 GMT", time.Time{}, false},
		{"minute 60", "Sun, 06 Nov 1994 08:60:00 GMT", time.Time{}, false},
		{"second 61", "Sun, 06 Nov 1994 08:49:61 GMT", time.Time{}, false},
		{"day 00", "Sun, 00 Nov 1994 08:49:37 GMT", time.Time{}, false},
		{"31 November", "Sun, 31 Nov 1994 08:49:37 GMT", time.Time{}, false},
		{"29 February of a common year", "Sun, 29 Feb 2023 08:49:37 GMT", time.Time{}, false},
		{"signs are not digits", "Sun, +6 Nov 1994 08:49:37 GMT", time.Time{}, false},
		{"unix seconds", strconv.FormatInt(t0.Unix(), 10), time.Time{}, false},
		{"RFC 3339", "2024-03-01T12:00:00Z", time.Time{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := ParseHTTPDate(tt.in, now)
			if ok != tt.wantOK || !got.Equal(tt.want) {
				t.Errorf("ParseHTTPDate(%q) = %v, %v; want %v, %v", tt.in, got, ok, tt.want, tt.wantOK)
			}
		})
	}
}

func TestParseDate(t *testing.T) {
	tests := []struct {
		name   string
		value  []string
		want   time.Time
		wantOK bool
	}{
		{"absent", nil, time.Time{}, false},
		{"IMF-fixdate", []string{"Fri, 01 Mar 2024 12:00:00 GMT"}, t0, true},
		{"surrounding OWS is not part of the value", []string{" Fri, 01 Mar 2024 12:00:00 GMT\t"}, t0, true},
		// RFC 9110 §5.3, RFC 9111 §5.3: a singleton field with several lines is invalid.
		{"two field lines are invalid", []string{httpDate(t0), httpDate(t0)}, time.Time{}, false},
		{"a valid line and junk are invalid", []string{httpDate(t0), "junk"}, time.Time{}, false},
		{"two dates on one line are invalid", []string{httpDate(t0) + ", " + httpDate(t0)}, time.Time{}, false},
		{"empty", []string{""}, time.Time{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := parseDate(http.Header{"Date": tt.value}, "Date", t0)
			if ok != tt.wantOK || !got.Equal(tt.want) {
				t.Errorf("parseDate(%q) = %v, %v; want %v, %v", tt.value, got, ok, tt.want, tt.wantOK)
			}
		})
	}
}

// The grammar of RFC 9110 §5.6.7, as a reference for FuzzParseHTTPDate, with names
// matched in any letter case.
var (
	refDay       = `(?i:Mon|Tue|Wed|Thu|Fri|Sat|Sun)`
	refLongDay   = `(?i:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday)`
	refMonth     = `(?i:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)`
	refTime      = `([0-9]{2}):([0-9]{2}):([0-9]{2})`
	refIMF       = regexp.MustCompile(`^` + refDay + `, ([0-9]{2}) (` + refMonth + `) ([0-9]{4}) ` + refTime + ` (?i:GMT)$`)
	refRFC850    = regexp.MustCompile(`^` + refLongDay + `, ([0-9]{2})-(` + refMonth + `)-([0-9]{2}) ` + refTime + ` (?i:GMT)$`)
	refASCTime   = regexp.MustCompile(`^` + refDay + ` (` + refMonth + `) ([0-9]{2}| [0-9]) ` + refTime + ` ([0-9]{4})$`)
	refMonthsIdx = "janfebmaraprmayjunjulaugsepoctnovdec"
)

// refParse is a second, independent reading of the grammar; ok is false off it or for
// a date or time of day that does not exist.
func refParse(s string, now time.Time) (time.Time, bool) {
	var day, month, year, hh, mm, ss string
	twoDigitYear := false
	switch {
	case refIMF.MatchString(s):
		m := refIMF.FindStringSubmatch(s)
		day, month, year, hh, mm, ss = m[1], m[2], m[3], m[4], m[5], m[6]
	case refRFC850.MatchString(s):
		m := refRFC850.FindStringSubmatch(s)
		day, month, year, hh, mm, ss = m[1], m[2], m[3], m[4], m[5], m[6]
		twoDigitYear = true
	case refASCTime.MatchString(s):
		m := refASCTime.FindStringSubmatch(s)
		month, day, hh, mm, ss, year = m[1], strings.TrimSpace(m[2]), m[3], m[4], m[5], m[6]
	default:
		return time.Time{}, false
	}
	atoi := func(s string) int { n, _ := strconv.Atoi(s); return n }
	y, d, h, mi, se := atoi(year), atoi(day), atoi(hh), atoi(mm), atoi(ss)
	mon := time.Month(strings.Index(refMonthsIdx, strings.ToLower(month))/3 + 1)
	if twoDigitYear {
		// The year ending in these digits within (now-50, now+50].
		for y = now.Year() - 49; y%100 != atoi(year); y++ {
		}
	}
	if h > 23 || mi > 59 || se > 60 || d < 1 {
		return time.Time{}, false
	}
	if t := time.Date(y, mon, d, 0, 0, 0, 0, time.UTC); t.Day() != d {
		return time.Time{}, false // 31 November and the like
	}
	return time.Date(y, mon, d, h, mi, se, 0, time.UTC), true
}

func FuzzParseHTTPDate(f *testing.F) {
	// testdata/fuzz/FuzzParseHTTPDate holds more seeds: the http-cache-tests Expires values.
	for _, s := range []string{
		"Sun, 06 Nov 1994 08:49:37 GMT", "Sunday, 06-Nov-94 08:49:37 GMT", "Sun Nov  6 08:49:37 1994",
		"Thu, 18 Aug 2050 2:01:18 GMT", "thu, 18 aug 2050 02:01:18 gmt", "Sat, 31 Dec 2016 23:59:60 GMT",
		"0", "", "Sun, 31 Nov 1994 08:49:37 GMT",
	} {
		f.Add(s, int64(0))
		f.Add(s, int64(4102444800)) // 2100
	}
	f.Fuzz(func(t *testing.T, s string, nowUnix int64) {
		now := time.Unix(int64(uint64(nowUnix)%(1<<37)), 0).UTC() // years 1970 to about 6300
		got, ok := ParseHTTPDate(s, now)
		want, wantOK := refParse(s, now)
		if ok != wantOK || !got.Equal(want) {
			t.Fatalf("ParseHTTPDate(%q, %v) = %v, %v; the grammar says %v, %v", s, now, got, ok, want, wantOK)
		}
		if !ok {
			return
		}
		if got.Location() != time.UTC || got.Nanosecond() != 0 {
			t.Fatalf("ParseHTTPDate(%q) = %v, want whole seconds in UTC", s, got)
		}
		// Round trip: the IMF-fixdate a sender would generate (§5.6.7) parses back to
		// the same instant, whatever form it came in.
		if y := got.Year(); y >= 0 && y <= 9999 {
			imf := got.Format(http.TimeFormat)
			back, ok := ParseHTTPDate(imf, now)
			if !ok || !back.Equal(got) {
				t.Fatalf("ParseHTTPDate(%q) = %v; its IMF-fixdate %q parses to %v, %v", s, got, imf, back, ok)
			}
		}
	})
}

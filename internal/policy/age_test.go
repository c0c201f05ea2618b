package policy

import (
	"math"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

// maxAge is what §1.2.2 asks an unrepresentable or overflowing delta-seconds to become: 2^31 seconds.
const maxAge = (1 << 31) * time.Second

func TestParseAge(t *testing.T) {
	tests := []struct {
		name   string
		lines  []string
		want   time.Duration
		wantOK bool
		bug    string
	}{
		{"absent", nil, 0, false, ""},
		{"zero", []string{"0"}, 0, true, ""},
		{"seconds", []string{"60"}, time.Minute, true, ""},
		{"surrounding whitespace", []string{" 60\t"}, time.Minute, true, ""},
		{"leading zeros", []string{"007"}, 7 * time.Second, true, ""},
		// §5.1: a list-based value uses its first member and discards the rest;
		// several field lines are one list (RFC 9110 §5.3).
		{"a list counts by its first member", []string{"5, 10"}, 5 * time.Second, true, ""},
		{"first member valid, rest junk", []string{"5,abc"}, 5 * time.Second, true, ""},
		{"first member zero, rest old", []string{"0,7200"}, 0, true, ""},
		{"first member old, rest zero", []string{"7200,0"}, 2 * time.Hour, true, ""},
		{"several lines count by the first", []string{"5", "10"}, 5 * time.Second, true, ""},
		{"several lines, first old", []string{"7200", "0"}, 2 * time.Hour, true, ""},
		{"whitespace around the first member", []string{"\t5 ,10"}, 5 * time.Second, true, ""},
		// §5.1: an invalid value (after taking the first member) is invalid.
		{"empty", []string{""}, 0, false, ""},
		{"blank", []string{"   "}, 0, false, ""},
		{"empty first member", []string{",5"}, 0, false, ""},
		{"invalid first line", []string{"abc", "5"}, 0, false, ""},
		{"invalid first member", []string{"abc, 5"}, 0, false, ""},
		{"empty first line", []string{"", "5"}, 0, false, ""},
		{"letters", []string{"abc"}, 0, false, ""},
		{"negative", []string{"-1"}, 0, false, ""},
		{"plus sign", []string{"+5"}, 0, false, ""},
		{"fraction", []string{"1.5"}, 0, false, ""},
		{"hex", []string{"0x10"}, 0, false, ""},
		{"digits then junk", []string{"10s"}, 0, false, ""},
		{"parameter", []string{"7200;foo=bar"}, 0, false, ""},
		{"inner space", []string{"1 0"}, 0, false, ""},
		{"non-ASCII digit", []string{"٣"}, 0, false, ""},
		// §1.2.2: too large saturates at 2^31 seconds.
		{"2^31-1", []string{"2147483647"}, math.MaxInt32 * time.Second, true, ""},
		{"2^31 saturates", []string{"2147483648"}, maxAge, true, ""},
		{"huge saturates", []string{"99999999999999999999999999"}, maxAge, true, ""},
		{"int64 max saturates", []string{strconv.FormatInt(math.MaxInt64, 10)}, maxAge, true, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := ParseAge(http.Header{"Age": tt.lines})
			verdict(t, tt.bug, got == tt.want && ok == tt.wantOK,
				"ParseAge(%q) = %v, %v; want %v, %v", tt.lines, got, ok, tt.want, tt.wantOK)
		})
	}
}

func TestInitialAge(t *testing.T) {
	tests := []struct {
		name                string
		header              http.Header
		requested, received time.Time
		want                time.Duration
		bug                 string
	}{
		{"nothing known", hdr(), t0, t0, 0, ""},
		{"response delay alone", hdr(), t0, t0.Add(2 * time.Second), 2 * time.Second, ""},
		// §4.2.3: corrected_age_value = age_value + response_delay.
		{"Age plus response delay", hdr("Age", "10"), t0, t0.Add(2 * time.Second), 12 * time.Second, ""},
		// apparent_age = max(0, response_time - date_value).
		{"apparent age from Date", hdr("Date", httpDate(t0)), t0.Add(30 * time.Second), t0.Add(30 * time.Second), 30 * time.Second, ""},
		{"Date in the future gives no apparent age", hdr("Date", httpDate(t0.Add(time.Hour)), "Age", "5"), t0, t0, 5 * time.Second, ""},
		{"apparent age larger than corrected age", hdr("Date", httpDate(t0), "Age", "10"), t0.Add(99 * time.Second), t0.Add(100 * time.Second), 100 * time.Second, ""},
		{"corrected age larger than apparent age", hdr("Date", httpDate(t0), "Age", "60"), t0.Add(4 * time.Second), t0.Add(5 * time.Second), 61 * time.Second, ""},
		// §5.1: an invalid Age (after taking the first member) is ignored: the
		// response counts as if it had no Age, not as stale.
		{"invalid Age is ignored", hdr("Date", httpDate(t0), "Age", "abc"), t0.Add(3 * time.Second), t0.Add(3 * time.Second), 3 * time.Second, ""},
		{"negative Age is ignored", hdr("Age", "-100"), t0, t0.Add(time.Second), time.Second, ""},
		{"fractional Age is ignored", hdr("Age", "7200.0"), t0, t0, 0, ""},
		{"Age with a parameter is ignored", hdr("Age", "7200;foo=bar"), t0, t0, 0, ""},
		{"list-based Age uses its first member", hdr("Age", "5, 7200"), t0, t0.Add(time.Second), 6 * time.Second, ""},
		{"list-based Age, first member old", hdr("Age", "7200, 5"), t0, t0, 2 * time.Hour, ""},
		{"two Age lines use the first", hdr("Age", "0", "Age", "7200"), t0, t0, 0, ""},
		// §1.2.2: an Age too large to represent counts as 2^31 s, which is stale.
		{"Age above 2^31 counts as 2^31", hdr("Age", "99999999999"), t0, t0, maxAge, ""},
		{"invalid Date is ignored", hdr("Date", "soon", "Age", "7"), t0, t0, 7 * time.Second, ""},
		{"received before requested counts no delay", hdr("Age", "7"), t0.Add(time.Second), t0, 7 * time.Second, ""},
		{"huge Age saturates", hdr("Age", "99999999999"), t0, t0.Add(time.Second), maxAge + time.Second, ""},
		// §1.2.2: a calculation that overflows counts as 2^31 seconds or the largest
		// representable value, never as something smaller.
		{"overflowing corrected age saturates", hdr("Age", "99999999999"), time.Time{}, t0, maxAge,
			""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := InitialAge(tt.header, tt.requested, tt.received)
			ok := got == tt.want
			if strings.Contains(tt.name, "overflowing") {
				ok = got >= tt.want // saturating at anything from 2^31 s up is fine
			}
			verdict(t, tt.bug, ok, "InitialAge(%q, %v, %v) = %v, want %v", tt.header, tt.requested, tt.received, got, tt.want)
		})
	}
}

func TestCurrentAge(t *testing.T) {
	tests := []struct {
		name          string
		initial       time.Duration
		received, now time.Time
		want          time.Duration
		bug           string
	}{
		// §4.2.3: current_age = corrected_initial_age + resident_time.
		{"at receipt", 10 * time.Second, t0, t0, 10 * time.Second, ""},
		{"resident time adds", 10 * time.Second, t0, t0.Add(5 * time.Second), 15 * time.Second, ""},
		{"clock before receipt adds nothing", 10 * time.Second, t0, t0.Add(-time.Minute), 10 * time.Second, ""},
		{"zero", 0, t0, t0, 0, ""},
		{"overflow saturates instead of going negative", maxAge, time.Time{}, t0, maxAge,
			""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := CurrentAge(tt.initial, tt.received, tt.now)
			ok := got == tt.want
			if strings.Contains(tt.name, "overflow") {
				ok = got >= tt.want // saturating at anything from 2^31 s up is fine
			}
			verdict(t, tt.bug, ok, "CurrentAge(%v, %v, %v) = %v, want %v", tt.initial, tt.received, tt.now, got, tt.want)
		})
	}
}

func TestAgeValue(t *testing.T) {
	tests := []struct {
		name string
		in   time.Duration
		want string
	}{
		{"zero", 0, "0"},
		{"rounds down", 1900 * time.Millisecond, "1"},
		{"under a second", 999 * time.Millisecond, "0"},
		{"minutes", 61 * time.Second, "61"},
		{"2^31", maxAge, "2147483648"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := AgeValue(tt.in); got != tt.want {
				t.Errorf("AgeValue(%v) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func FuzzParseAge(f *testing.F) {
	for _, s := range []string{"0", "60", " 60 ", "5, 10", ",5", "abc", "-1", "+5", "1.5", "7200;foo=1",
		"2147483647", "2147483648", "99999999999999999999999", "٣", ""} {
		f.Add(s, "")
		f.Add(s, "7")
	}
	f.Fuzz(func(t *testing.T, first, second string) {
		lines := []string{first}
		if second != "" {
			lines = append(lines, second)
		}
		h := http.Header{"Age": lines}
		got, ok := ParseAge(h)
		switch {
		case got < 0:
			t.Fatalf("ParseAge(%q) = %v, want >= 0", lines, got)
		case !ok && got != 0:
			t.Fatalf("ParseAge(%q) = %v, false; want 0 when invalid", lines, got)
		case got > maxAge:
			t.Fatalf("ParseAge(%q) = %v, above 2^31 s (§1.2.2)", lines, got)
		case got%time.Second != 0:
			t.Fatalf("ParseAge(%q) = %v, not whole seconds", lines, got)
		}
		// The value used is the first member of the first line (§5.1); it must be
		// delta-seconds, 1*DIGIT (§1.2.2), or the field is invalid.
		member, _, _ := strings.Cut(first, ",")
		member = strings.Trim(member, " \t") // OWS is SP and HTAB (RFC 9110 §5.6.3)
		digits := member != "" && strings.Trim(member, "0123456789") == ""
		if ok && !digits {
			t.Fatalf("ParseAge(%q) = %v, true; want invalid, %q is not delta-seconds", lines, got, member)
		}
		n, err := strconv.ParseInt(member, 10, 64)
		if ok && err == nil && n <= math.MaxInt32 && got != time.Duration(n)*time.Second {
			t.Fatalf("ParseAge(%q) = %v, want %ds", lines, got, n)
		}
		if ok && (err != nil || n > math.MaxInt32) && got != maxAge {
			t.Fatalf("ParseAge(%q) = %v, want 2^31 s", lines, got)
		}
		// A first member of digits is always valid, whatever follows it (§5.1).
		if digits && !ok {
			t.Fatalf("ParseAge(%q) invalid, want valid: first member %q", lines, member)
		}
		// InitialAge is never negative, never below a valid Age, and an invalid Age
		// counts as none (§5.1): then only the response delay is left.
		ia := InitialAge(h, t0, t0.Add(time.Second))
		if ia < 0 || (ok && ia < got) {
			t.Fatalf("InitialAge with Age %q = %v, want >= %v", lines, ia, got)
		}
		if !ok && ia != time.Second {
			t.Fatalf("InitialAge with invalid Age %q = %v, want 1s (Age ignored)", lines, ia)
		}
	})
}

package policy

import (
	"net/http"
	"slices"
	"strings"
	"testing"
)

func TestTags(t *testing.T) {
	long := strings.Repeat("x", MaxTagLen+1)
	tests := []struct {
		name   string
		header http.Header
		fields []string
		want   []string
	}{
		{"no fields, no tags", http.Header{}, nil, nil},
		{"Cache-Groups is a List of Strings (RFC 9875 §2)", http.Header{"Cache-Groups": {`"a", "b c"`}}, nil, []string{"a", "b c"}},
		{"Cache-Groups members that are not strings are ignored", http.Header{"Cache-Groups": {`"a", tok, 42, ("x")`}}, nil, []string{"a"}},
		{"Cache-Groups parameters are ignored", http.Header{"Cache-Groups": {`"a";p=1`}}, nil, []string{"a"}},
		{"Cache-Groups that does not parse is ignored whole (RFC 9651 §4.2)", http.Header{"Cache-Groups": {`"a", "b`}}, nil, nil},
		{"Cache-Groups split over field lines is one list", http.Header{"Cache-Groups": {`"a"`, `"b"`}}, nil, []string{"a", "b"}},
		{"Surrogate-Key is space separated", http.Header{"Surrogate-Key": {"  p-1 \t p-2  "}}, nil, []string{"p-1", "p-2"}},
		{"Cache-Tag is comma separated", http.Header{"Cache-Tag": {" a , b,,c "}}, nil, []string{"a", "b", "c"}},
		{"all three, duplicates once, in field order", http.Header{
			"Cache-Groups": {`"g"`}, "Surrogate-Key": {"s g"}, "Cache-Tag": {"c,s"},
		}, nil, []string{"g", "s", "c"}},
		{"--tag-header limits the fields read", http.Header{"Cache-Groups": {`"g"`}, "Surrogate-Key": {"s"}}, []string{SurrogateKey}, []string{"s"}},
		{"tags are case-sensitive", http.Header{"Surrogate-Key": {"A a"}}, nil, []string{"A", "a"}},
		{"an overlong tag is dropped, never cut", http.Header{"Surrogate-Key": {"a " + long + " b"}}, nil, []string{"a", "b"}},
		{"no regular expressions: metacharacters are literal", http.Header{"Surrogate-Key": {"a.* [b]"}}, nil, []string{"a.*", "[b]"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Tags(tt.header, tt.fields); !slices.Equal(got, tt.want) {
				t.Errorf("Tags() = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestTagsAreBounded(t *testing.T) {
	var b strings.Builder
	for i := range 3 * MaxTags {
		b.WriteString("t")
		b.WriteString(strings.Repeat("x", i%7))
		b.WriteString(string(rune('a' + i%26)))
		b.WriteString(" ")
		b.WriteString(strings.Repeat("y", i))
		b.WriteString(" ")
	}
	if got := len(Tags(http.Header{"Surrogate-Key": {b.String()}}, nil)); got > MaxTags {
		t.Errorf("len(Tags()) = %d, want <= %d", got, MaxTags)
	}
}

func TestInvalidatedGroups(t *testing.T) {
	h := http.Header{"Cache-Group-Invalidation": {`"a", "b"`}}
	tests := []struct {
		name   string
		method string
		status int
		want   []string
	}{
		{"a successful unsafe response invalidates its groups (RFC 9875 §3)", http.MethodPost, 200, []string{"a", "b"}},
		{"a redirect is not an error", http.MethodDelete, 303, []string{"a", "b"}},
		{"an error response invalidates nothing", http.MethodPost, 500, nil},
		{"ignored on responses to safe methods", http.MethodGet, 200, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := InvalidatedGroups(tt.method, tt.status, h); !slices.Equal(got, tt.want) {
				t.Errorf("InvalidatedGroups() = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestTagField(t *testing.T) {
	for in, want := range map[string]string{"surrogate-key": SurrogateKey, "CACHE-TAG": CacheTag, "cache-groups": CacheGroups} {
		if got, ok := TagField(in); !ok || got != want {
			t.Errorf("TagField(%q) = %q, %v; want %q, true", in, got, ok, want)
		}
	}
	if _, ok := TagField("X-Tags"); ok {
		t.Error(`TagField("X-Tags") reported a tag field`)
	}
}

// FuzzTags feeds arbitrary field values to the three tag parsers: they must never
// panic, and every tag they return is non-empty, bounded and named by the input.
func FuzzTags(f *testing.F) {
	for _, s := range []string{`"a", "b"`, `"a`, "a b c", "a,b", `"\"q\""`, `("x" "y"), 1.5, ?1`, "\x00\xff"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		h := http.Header{"Cache-Groups": {v}, "Surrogate-Key": {v}, "Cache-Tag": {v}, "Cache-Group-Invalidation": {v}}
		tags := Tags(h, nil)
		if len(tags) > MaxTags {
			t.Fatalf("%d tags, want <= %d", len(tags), MaxTags)
		}
		for _, tag := range tags {
			if tag == "" || len(tag) > MaxTagLen {
				t.Fatalf("tag %q: empty or too long", tag)
			}
		}
		_ = InvalidatedGroups(http.MethodPost, 200, h)
	})
}

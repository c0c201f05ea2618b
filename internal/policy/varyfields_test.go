package policy

import (
	"maps"
	"net/http"
	"testing"
)

func TestVaryFields(t *testing.T) {
	names := []string{"Accept-Encoding", "Accept-Language", "X-Color", "X-Absent"}
	for _, tt := range []struct {
		name string
		req  http.Header
		want map[string]string
	}{
		{"each field read back, an absent one left out (RFC 9111 §4.1)",
			http.Header{"X-Color": {"blue"}, "Accept-Language": {"de"}}, map[string]string{"X-Color": "blue", "Accept-Language": "de"}},
		{"values as the key normalises them", http.Header{"Accept-Encoding": {"br, GZIP"}},
			map[string]string{"Accept-Encoding": secondaryValue(http.Header{"Accept-Encoding": {"br, GZIP"}}, "Accept-Encoding")}},
		{"an empty value is not an absent one", http.Header{"Accept-Language": {""}}, map[string]string{"Accept-Language": ""}},
		{"nothing sent", http.Header{}, map[string]string{}},
	} {
		if got := VaryFields(SecondaryKey(tt.req, names), names); !maps.Equal(got, tt.want) {
			t.Errorf("%s: VaryFields() = %q, want %q", tt.name, got, tt.want)
		}
	}
	if got := VaryFields("", nil); got != nil {
		t.Errorf("no Vary: %q, want nil", got)
	}
	if got := VaryFields("garbage", names); len(got) != 0 {
		t.Errorf("not a key of these names: %q, want nothing", got)
	}
}

// secondaryValue is the normalised value SecondaryKey holds for one field.
func secondaryValue(h http.Header, name string) string {
	k := SecondaryKey(h, []string{name})
	return k[len(name)+1 : len(k)-1]
}

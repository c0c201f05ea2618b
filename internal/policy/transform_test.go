package policy

import (
	"reflect"
	"testing"
)

func TestMayTransform(t *testing.T) {
	tests := []struct {
		name      string
		req, resp []string // Cache-Control of each, then more field pairs of the response
		want      bool
	}{
		{"nothing says no", nil, nil, true},
		{"response no-transform (RFC 9111 §5.2.2.6)", nil, []string{"Cache-Control", "max-age=60, no-transform"}, false},
		{"request no-transform (§5.2.1.6)", []string{"Cache-Control", "no-transform"}, nil, false},
		{"no-transform in a second field line", nil, []string{"Cache-Control", "max-age=60", "Cache-Control", "no-transform"}, false},
		{"no-transform in CDN-Cache-Control (RFC 9213)", nil, []string{"CDN-Cache-Control", "max-age=60, no-transform"}, false},
		{"Cache-Control no-transform still counts beside a targeted field", nil, []string{"Cache-Control", "no-transform", "CDN-Cache-Control", "max-age=60"}, false},
		{"case-insensitive directive", nil, []string{"Cache-Control", "No-Transform"}, false},
		{"other directives allow it", []string{"Cache-Control", "max-age=0"}, []string{"Cache-Control", "public, max-age=60"}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := MayTransform(hdr(tt.req...), hdr(tt.resp...)); got != tt.want {
				t.Errorf("MayTransform(%q, %q) = %v, want %v", tt.req, tt.resp, got, tt.want)
			}
		})
	}
}

func TestContentCoding(t *testing.T) {
	tests := []struct {
		name   string
		lines  []string
		want   string
		wantOK bool
	}{
		{"none is identity (RFC 9110 §8.4)", nil, "identity", true},
		{"gzip", []string{"gzip"}, "gzip", true},
		{"case-insensitive (§8.4.1)", []string{"GZip"}, "gzip", true},
		{"x-gzip is gzip (§8.4.1.3)", []string{"x-gzip"}, "gzip", true},
		{"identity named", []string{"identity"}, "identity", true},
		{"empty members ignored", []string{" br , "}, "br", true},
		{"stacked codings", []string{"gzip, br"}, "", false},
		{"stacked over field lines", []string{"gzip", "br"}, "", false},
		{"an unknown coding is returned", []string{"compress"}, "compress", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := hdr()
			for _, l := range tt.lines {
				h.Add("Content-Encoding", l)
			}
			if got, ok := ContentCoding(h); got != tt.want || ok != tt.wantOK {
				t.Errorf("ContentCoding(%q) = %q, %v, want %q, %v", tt.lines, got, ok, tt.want, tt.wantOK)
			}
		})
	}
}

func TestWeakETag(t *testing.T) {
	for in, want := range map[string]string{`"a"`: `W/"a"`, `W/"a"`: `W/"a"`, "": "", `""`: `W/""`} {
		if got := WeakETag(in); got != want {
			t.Errorf("WeakETag(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestVaryWith(t *testing.T) {
	tests := []struct {
		name  string
		lines []string
		want  []string
	}{
		{"no Vary", nil, []string{"Accept-Encoding"}},
		{"another field", []string{"Origin"}, []string{"Origin", "Accept-Encoding"}},
		{"already named, other case", []string{"origin, accept-encoding"}, []string{"origin, accept-encoding"}},
		{"star stays star", []string{"*"}, []string{"*"}},
	}
	for _, tt := range tests {
		orig := append([]string(nil), tt.lines...)
		if got := VaryWith(tt.lines, "Accept-Encoding"); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%s: VaryWith(%q) = %q, want %q", tt.name, tt.lines, got, tt.want)
		}
		if !reflect.DeepEqual(tt.lines, orig) {
			t.Errorf("%s: VaryWith changed its argument to %q", tt.name, tt.lines)
		}
	}
}

package l2

import (
	"slices"
	"testing"
)

func TestEventRoundTrip(t *testing.T) {
	tests := []struct {
		name string
		wire string
		want event
	}{
		{"clear", encodeClear(7), event{clear: true, gen: 7}},
		{"clear after a Redis restart", encodeClear(0), event{clear: true, gen: 0}},
		{"one key", encodeInvalidate([]string{"/a"}), event{keys: []string{"/a"}}},
		{"keys with any bytes", encodeInvalidate([]string{"/a?b", "/v\x00n\x00\xff\n", ""}), event{keys: []string{"/a?b", "/v\x00n\x00\xff\n", ""}}},
		{"no keys", encodeInvalidate(nil), event{keys: []string{}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := decodeEvent(tt.wire)
			if err != nil || got.clear != tt.want.clear || got.gen != tt.want.gen || !slices.Equal(got.keys, tt.want.keys) {
				t.Errorf("decodeEvent() = %+v, %v, want %+v", got, err, tt.want)
			}
		})
	}
}

func TestDecodeEventRejects(t *testing.T) {
	for name, wire := range map[string]string{
		"empty":                 "",
		"unknown kind":          "x\x01",
		"clear without gen":     "c",
		"clear with trailing":   encodeClear(1) + "z",
		"count beyond payload":  "i\x05\x01a",
		"key beyond payload":    "i\x01\x09abc",
		"trailing bytes":        encodeInvalidate([]string{"/a"}) + "z",
		"huge count":            "i\xff\xff\xff\xff\xff\xff\xff\xff\x7f",
		"truncated uvarint key": "i\x01\xff",
	} {
		if ev, err := decodeEvent(wire); err == nil {
			t.Errorf("%s: decodeEvent(%q) = %+v, nil; want an error", name, wire, ev)
		}
	}
}

// FuzzDecodeEvent: events come over the network from any replica of any version.
// Whatever decodes must survive a round trip (varints need not be minimal on the wire).
func FuzzDecodeEvent(f *testing.F) {
	f.Add(encodeClear(3))
	f.Add(encodeInvalidate([]string{"/a", "/b\x00c"}))
	f.Add("i\xff\x01")
	f.Fuzz(func(t *testing.T, wire string) {
		ev, err := decodeEvent(wire)
		if err != nil {
			return
		}
		again := encodeInvalidate(ev.keys)
		if ev.clear {
			again = encodeClear(ev.gen)
		}
		back, err := decodeEvent(again)
		if err != nil || back.clear != ev.clear || back.gen != ev.gen || !slices.Equal(back.keys, ev.keys) {
			t.Errorf("decodeEvent(%q) = %+v, which encodes as %q and decodes as %+v, %v", wire, ev, again, back, err)
		}
	})
}

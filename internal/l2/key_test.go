package l2

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"testing"
)

func TestRedisKey(t *testing.T) {
	long := "/" + strings.Repeat("a", maxRawKey)
	tests := []struct {
		name string
		gen  int64
		key  string
		want string
	}{
		{"short key verbatim", 0, "/a?b=1", "cp:0:/a?b=1"},
		{"generation in the prefix", 42, "/a", "cp:42:/a"},
		{"variant key bytes kept", 1, "/a\x00n\x00gzip", "cp:1:/a\x00n\x00gzip"},
		{"key at the limit verbatim", 0, long[1:], "cp:0:" + long[1:]},
		{"long key hashed", 0, long, "cp:0:#" + sha(long)},
		{"key starting with # hashed", 3, "#x", "cp:3:#" + sha("#x")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := redisKey(tt.gen, tt.key); got != tt.want {
				t.Errorf("redisKey(%d, %q) = %q, want %q", tt.gen, tt.key, got, tt.want)
			}
		})
	}
}

func TestRedisKeyBounded(t *testing.T) {
	for _, n := range []int{maxRawKey + 1, 10_000, 1 << 20} {
		if got := len(redisKey(1<<62, strings.Repeat("k", n))); got > 100 {
			t.Errorf("len(redisKey) of a %d-byte key = %d, want <= 100", n, got)
		}
	}
}

func TestFrame(t *testing.T) {
	long := "/" + strings.Repeat("x", 300)
	other := "/" + strings.Repeat("y", 300)
	value := []byte("CP\x01entry")
	tests := []struct {
		name   string
		stored []byte // what Redis holds
		key    string // what is looked up
		want   []byte
		ok     bool
	}{
		{"short key stored as is", frame("/a", value), "/a", value, true},
		{"long key round trip", frame(long, value), long, value, true},
		{"long key, empty value", frame(long, nil), long, []byte{}, true},
		{"hash collision is a miss", frame(other, value), long, nil, false},
		{"unframed value under a hashed key is a miss", value, long, nil, false},
		{"truncated frame is a miss", frame(long, value)[:10], long, nil, false},
		{"empty value under a hashed key is a miss", nil, long, nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := unframe(tt.key, tt.stored)
			if ok != tt.ok || !bytes.Equal(got, tt.want) {
				t.Errorf("unframe() = %q, %v, want %q, %v", got, ok, tt.want, tt.ok)
			}
		})
	}
}

func sha(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

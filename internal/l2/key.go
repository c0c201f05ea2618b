package l2

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"strconv"
	"strings"
)

// Redis names the tier uses; nothing else in the database is read or written.
const (
	keyPrefix     = "cp:"       // every key the tier writes starts with it
	genKey        = "cp:gen"    // the generation: INCR'd by a clear
	eventsChannel = "cp:events" // invalidations and clears, for every replica
	hashedMark    = "#"         // after "cp:{gen}:", marks a key stored as its SHA-256
	maxRawKey     = 200         // longer proxy keys are hashed, so Redis keys stay bounded
)

// redisKey is where the value for a proxy key lives in generation gen:
// "cp:{gen}:" and the key itself, or "cp:{gen}:#" and the hex SHA-256 of a long key.
// A key that itself starts with "#" is hashed too, so the two forms never collide.
func redisKey(gen int64, key string) string {
	prefix := keyPrefix + strconv.FormatInt(gen, 10) + ":"
	if !hashed(key) {
		return prefix + key
	}
	sum := sha256.Sum256([]byte(key))
	return prefix + hashedMark + hex.EncodeToString(sum[:])
}

// hashed reports whether key is stored under its hash rather than verbatim.
func hashed(key string) bool {
	return len(key) > maxRawKey || strings.HasPrefix(key, hashedMark)
}

// frame is what the tier stores for key: the proxy's value as is, or, when the Redis
// key is a hash, the full key first, so a read can tell a collision from a hit.
//
//	uvarint len(key) | key | value
func frame(key string, value []byte) []byte {
	if !hashed(key) {
		return value
	}
	b := make([]byte, 0, binary.MaxVarintLen64+len(key)+len(value))
	b = binary.AppendUvarint(b, uint64(len(key)))
	b = append(b, key...)
	return append(b, value...)
}

// unframe returns the proxy's value from what frame wrote for key; false when the
// stored value belongs to another key or is not framed.
func unframe(key string, b []byte) ([]byte, bool) {
	if !hashed(key) {
		return b, true
	}
	n, w := binary.Uvarint(b)
	if w <= 0 || n != uint64(len(key)) || uint64(len(b)-w) < n {
		return nil, false
	}
	b = b[w:]
	if string(b[:n]) != key {
		return nil, false
	}
	return b[n:], true
}

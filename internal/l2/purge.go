package l2

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// Targeted purges on the shared tier.
//
// The writes keep an index in Redis, so a URL or tag purge never scans: for every
// tag an entry carries, a set cp:{gen}:tag:{tag} of its proxy keys, and for every
// Vary variant, a set cp:{gen}:url:{key} of the variants of that URL. Each set
// lives in the generation (a clear leaves it behind with the entries) and its TTL
// is raised to the longest of its members' (plus a margin), never lowered, so it
// outlives what it names. Members whose entries expired stay in a set until the set
// does: deleting a key that is gone costs nothing. Every command names one key, so
// each lands in one Cluster slot.
//
// A prefix purge has no index in Redis: it walks the generation with SCAN (never
// KEYS) in the background, on the purging replica, and says so. Keys longer than
// maxRawKey are stored under their hash and a prefix cannot find them there; their
// local copies are purged by every replica's own index, and in Redis they live out
// their TTLs (docs/invalidation.md).

// Purge is one targeted invalidation, in the proxy's keys.
type Purge struct {
	URLs     []string // proxy keys: each entry, or the variant index of a URL that varies, and its variants
	Prefixes []string // literal prefixes of proxy keys
	Tags     []string // exact tags
	Soft     bool     // rewrite the entries with restale instead of deleting them
}

// PurgeResult is what a purge did in Redis.
type PurgeResult struct {
	Entries  int64 // keys deleted, or values rewritten by restale
	Scanning bool  // a prefix purge goes on in the background
}

// purgeState is the tier's identity in purge events: a replica applies its own purges
// before announcing them, so it ignores its own announcements.
type purgeState struct {
	once sync.Once
	id   [8]byte
}

func (t *Tier) replicaID() [8]byte {
	t.purges.once.Do(func() { _, _ = rand.Read(t.purges.id[:]) })
	return t.purges.id
}

// tagSetTTLMargin is how much longer a tag or URL set lives than its longest member.
const tagSetTTLMargin = time.Minute

// addToSet adds a member to a set and raises the set's TTL to ARGV[2] ms if it is
// lower (or unset). One key: one Cluster slot. EVAL rather than PEXPIRE GT, which
// Redis < 7 and some Valkey-compatible servers lack.
var addToSet = redis.NewScript(`
redis.call('SADD', KEYS[1], ARGV[1])
local ttl = redis.call('PTTL', KEYS[1])
if ttl < tonumber(ARGV[2]) then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 1`)

// Tag records, behind the SET of key queued before it, that key carries tags and,
// when url is not empty, that it is a Vary variant of url. Like Set, it is queued and
// dropped when the queue is full or the tier is down.
func (t *Tier) Tag(key, url string, tags []string, retention time.Duration) {
	if (len(tags) == 0 && url == "") || retention < time.Millisecond || !t.usable() {
		return
	}
	gen := t.gen.load()
	ms := strconv.FormatInt((retention + tagSetTTLMargin).Milliseconds(), 10)
	o := op{}
	for _, tag := range tags {
		o.sets = append(o.sets, setAdd{set: setKey(gen, "tag:", tag), member: key, ms: ms})
	}
	if url != "" {
		o.sets = append(o.sets, setAdd{set: setKey(gen, "url:", url), member: key, ms: ms})
	}
	select {
	case t.queue <- o:
	default: // full: the entry's own SET was likely dropped too
	}
}

// setAdd is one member added to a tag or URL set, with the TTL (ms) the set keeps at least.
type setAdd struct{ set, member, ms string }

// writeIndex adds an op's set members and quiet DELs to a write pipeline, each on
// the node that holds its key, and returns what with them recorded (judgeWrites).
func (t *Tier) writeIndex(ctx context.Context, p redis.Pipeliner, o op, what []sent) []sent {
	for _, s := range o.sets {
		if n, ok := t.usableFor(ctx, s.set); ok {
			addToSet.Eval(ctx, p, []string{s.set}, s.member, s.ms)
			what = append(what, sent{node: n})
		}
	}
	for _, k := range o.quiet {
		rk := redisKey(o.gen, k)
		if n, ok := t.usableFor(ctx, rk); ok {
			p.Del(ctx, rk)
			what = append(what, sent{node: n})
		}
	}
	return what
}

// setKey is the Redis key of a tag or URL set in generation gen; long names are hashed.
func setKey(gen int64, kind, name string) string {
	prefix := keyPrefix + strconv.FormatInt(gen, 10) + ":" + kind
	if len(name) <= maxRawKey && !strings.HasPrefix(name, hashedMark) {
		return prefix + name
	}
	sum := sha256.Sum256([]byte(name))
	return prefix + hashedMark + hex.EncodeToString(sum[:])
}

// Purge applies p to Redis and announces it, so every other replica applies it to
// its local copies (OnPurge). restale gives the soft-purged form of a stored value,
// false to leave it. URL and tag purges are done when Purge returns; prefixes are
// walked in the background (PurgeResult.Scanning). While Redis does not answer,
// the URLs of a hard purge are deleted and announced once it does; the rest is lost,
// and the error says so.
func (t *Tier) Purge(p Purge, restale func([]byte) ([]byte, bool)) (PurgeResult, error) {
	var res PurgeResult
	if t.ctx.Err() != nil {
		return res, errors.New("l2: purge: tier closed")
	}
	if !t.usable() {
		if !p.Soft {
			t.pending.add(p.URLs)
		}
		return res, errors.New("l2: purge: Redis does not answer; other replicas keep their copies until their TTLs (URLs of a hard purge are retried)")
	}
	ctx, cancel := context.WithTimeout(t.ctx, t.writeTimeout)
	defer cancel()
	gen := t.gen.load()
	keys, sets, err := t.members(ctx, gen, p)
	if err != nil {
		t.opt.Errors.Inc()
		return res, fmt.Errorf("l2: purge: reading tag sets: %w", err)
	}
	if p.Soft {
		res.Entries, err = t.restale(ctx, gen, keys, restale)
	} else {
		res.Entries, err = t.delete(ctx, gen, keys, sets)
	}
	if err != nil {
		t.opt.Errors.Inc()
		return res, fmt.Errorf("l2: purge: %w", err)
	}
	if err := t.publish(ctx, encodePurge(t.replicaID(), p)); err != nil {
		t.opt.Errors.Inc()
		return res, fmt.Errorf("l2: purge: announcing it (other replicas keep their copies until their TTLs): %w", err)
	}
	if len(p.Prefixes) > 0 {
		res.Scanning = true
		t.wg.Add(1)
		go t.scanPrefixes(gen, p.Prefixes, p.Soft, restale)
	}
	return res, nil
}

// members resolves the URLs and tags of p into proxy keys, with the sets it read.
func (t *Tier) members(ctx context.Context, gen int64, p Purge) (keys, sets []string, err error) {
	seen := map[string]bool{}
	add := func(k string) {
		if !seen[k] {
			seen[k] = true
			keys = append(keys, k)
		}
	}
	for _, u := range p.URLs {
		add(u)
		sets = append(sets, setKey(gen, "url:", u))
	}
	for _, tag := range p.Tags {
		sets = append(sets, setKey(gen, "tag:", tag))
	}
	if len(sets) == 0 {
		return keys, nil, nil
	}
	cmds, err := t.rdb.Pipelined(ctx, func(pl redis.Pipeliner) error {
		for _, s := range sets {
			pl.SMembers(ctx, s)
		}
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	for _, c := range cmds {
		for _, k := range c.(*redis.StringSliceCmd).Val() {
			add(k)
		}
	}
	return keys, sets, nil
}

// delete removes keys (each a single-key DEL) and the sets that named them.
func (t *Tier) delete(ctx context.Context, gen int64, keys, sets []string) (int64, error) {
	if len(keys)+len(sets) == 0 {
		return 0, nil
	}
	var n int64
	cmds, err := t.rdb.Pipelined(ctx, func(pl redis.Pipeliner) error {
		for _, k := range keys {
			pl.Del(ctx, redisKey(gen, k))
		}
		for _, s := range sets {
			pl.Del(ctx, s)
		}
		return nil
	})
	for _, c := range cmds[:min(len(keys), len(cmds))] {
		n += c.(*redis.IntCmd).Val()
	}
	return n, err
}

// restale rewrites each stored value through fn, keeping its TTL.
func (t *Tier) restale(ctx context.Context, gen int64, keys []string, fn func([]byte) ([]byte, bool)) (int64, error) {
	if len(keys) == 0 {
		return 0, nil
	}
	cmds, err := t.rdb.Pipelined(ctx, func(pl redis.Pipeliner) error {
		for _, k := range keys {
			pl.Get(ctx, redisKey(gen, k))
		}
		return nil
	})
	if err != nil && !errors.Is(err, redis.Nil) {
		return 0, err
	}
	var n int64
	_, err = t.rdb.Pipelined(ctx, func(pl redis.Pipeliner) error {
		for i, c := range cmds {
			b, err := c.(*redis.StringCmd).Bytes()
			if err != nil {
				continue
			}
			v, ok := unframe(keys[i], b)
			if !ok {
				continue
			}
			if v, err = t.codec.decode(v); err != nil {
				continue
			}
			if v, ok = fn(v); ok {
				// Uncompressed: whether the proxy wanted it compressed is not kept.
				pl.SetArgs(ctx, redisKey(gen, keys[i]), frame(keys[i], t.codec.encode(v, false)), redis.SetArgs{KeepTTL: true, Mode: "XX"})
				n++
			}
		}
		return nil
	})
	if errors.Is(err, redis.Nil) { // XX: the key went meanwhile
		err = nil
	}
	return n, err
}

// scanPrefixes walks generation gen for keys under each prefix, deletes (or, when
// soft, rewrites) them in batches, and announces them again: a replica may have read
// one from Redis between the purge's announcement and its deletion.
func (t *Tier) scanPrefixes(gen int64, prefixes []string, soft bool, fn func([]byte) ([]byte, bool)) {
	defer t.wg.Done()
	base := keyPrefix + strconv.FormatInt(gen, 10) + ":"
	for _, pre := range prefixes {
		match := base + globEscape(pre) + "*"
		err := t.scan(match, func(ctx context.Context, rkeys []string) error {
			keys := make([]string, 0, len(rkeys))
			for _, rk := range rkeys {
				keys = append(keys, strings.TrimPrefix(rk, base))
			}
			var err error
			if soft {
				_, err = t.restale(ctx, gen, keys, fn)
			} else {
				_, err = t.delete(ctx, gen, keys, nil)
			}
			if err != nil {
				return err
			}
			ev := encodeInvalidate(keys)
			if soft {
				ev = encodePurge(t.replicaID(), Purge{URLs: keys, Soft: true})
			}
			return t.publish(ctx, ev)
		})
		if err != nil && t.ctx.Err() == nil {
			t.opt.Errors.Inc()
			t.log.Warn("shared cache tier: prefix purge scan stopped; entries left live out their TTLs", "prefix", pre, "err", err)
		}
	}
}

// scanBatch is SCAN's COUNT hint, and the most keys deleted in one pipeline.
const scanBatch = 500

// scan calls fn with batches of the keys matching match, on every master of a Cluster.
func (t *Tier) scan(match string, fn func(ctx context.Context, keys []string) error) error {
	walk := func(ctx context.Context, c redis.Cmdable) error {
		var cursor uint64
		for {
			if t.ctx.Err() != nil {
				return nil
			}
			sctx, cancel := context.WithTimeout(ctx, t.writeTimeout)
			keys, next, err := c.Scan(sctx, cursor, match, scanBatch).Result()
			if err == nil && len(keys) > 0 {
				err = fn(sctx, keys)
			}
			cancel()
			if err != nil {
				return err
			}
			if cursor = next; cursor == 0 {
				return nil
			}
		}
	}
	var c any = t.rdb
	if cc, ok := c.(*redis.ClusterClient); ok {
		return cc.ForEachMaster(t.ctx, func(ctx context.Context, n *redis.Client) error { return walk(ctx, n) })
	}
	return walk(t.ctx, t.rdb)
}

// globEscape quotes the characters SCAN MATCH treats as a pattern: a prefix is literal.
func globEscape(s string) string {
	var b strings.Builder
	for _, r := range s {
		if strings.ContainsRune(`*?[]\`, r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// handlePurge applies a purge event from another replica; it reports whether payload
// was one (even one it could not read).
func (t *Tier) handlePurge(payload string) bool {
	if payload == "" || payload[0] != kindPurge {
		return false
	}
	from, p, err := decodePurge(payload)
	switch {
	case err != nil:
		t.log.Debug("shared cache tier: ignoring a purge event", "err", err)
	case from == t.replicaID() || t.opt.OnPurge == nil:
	default:
		dropped := t.opt.OnPurge(p)
		if p.Soft || len(dropped) == 0 {
			return true
		}
		// This replica may have queued writes of what it just dropped before the
		// purge reached it; delete them behind those writes, without announcing.
		select {
		case t.queue <- op{quiet: dropped, gen: t.gen.load()}:
		default:
		}
	}
	return true
}

// The purge event:
//
//	'p' | 8-byte replica id | uvarint flags (1: soft) | three lists (URLs, prefixes, tags),
//	each uvarint count | (uvarint len | bytes) * count
const kindPurge = 'p'

func encodePurge(from [8]byte, p Purge) string {
	b := append([]byte{kindPurge}, from[:]...)
	flags := uint64(0)
	if p.Soft {
		flags |= 1
	}
	b = binary.AppendUvarint(b, flags)
	for _, l := range [][]string{p.URLs, p.Prefixes, p.Tags} {
		b = binary.AppendUvarint(b, uint64(len(l)))
		for _, s := range l {
			b = binary.AppendUvarint(b, uint64(len(s)))
			b = append(b, s...)
		}
	}
	return string(b)
}

// decodePurge parses what encodePurge wrote; anything else is an error, never a panic.
func decodePurge(s string) (from [8]byte, p Purge, err error) {
	if len(s) < 1+len(from) || s[0] != kindPurge {
		return from, p, errEvent
	}
	copy(from[:], s[1:])
	b := []byte(s[1+len(from):])
	flags, n := binary.Uvarint(b)
	if n <= 0 {
		return from, p, errEvent
	}
	b = b[n:]
	p.Soft = flags&1 != 0
	for _, l := range []*[]string{&p.URLs, &p.Prefixes, &p.Tags} {
		count, n := binary.Uvarint(b)
		if n <= 0 || count > uint64(len(b)) {
			return from, p, errEvent
		}
		b = b[n:]
		for range count {
			sz, n := binary.Uvarint(b)
			if n <= 0 || sz > uint64(len(b)-n) {
				return from, p, errEvent
			}
			*l = append(*l, string(b[n:n+int(sz)]))
			b = b[n+int(sz):]
		}
	}
	if len(b) != 0 {
		return from, p, errEvent
	}
	return from, p, nil
}

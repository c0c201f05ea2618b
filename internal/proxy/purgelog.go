package proxy

import (
	"strings"
	"sync"
	"sync/atomic"
)

// purgeLog remembers the last purges, so a fill that began before one of them can
// tell whether it matches (fill). A fill that began before the oldest remembered
// purge is treated as matching: dropping a fill costs one origin request, keeping a
// purged response is wrong.
type purgeLog struct {
	seq  atomic.Uint64 // purges recorded so far; read without the lock
	mu   sync.Mutex
	ring [purgeLogSize]purgeRecord
}

const purgeLogSize = 4096

type purgeRecord struct {
	seq   uint64
	kind  byte // 'u' URL, 'p' prefix, 't' tag
	value string
}

// now returns the position a fill starting now compares against later.
func (l *purgeLog) now() uint64 { return l.seq.Load() }

func (l *purgeLog) record(p Purge) {
	l.mu.Lock()
	defer l.mu.Unlock()
	put := func(kind byte, vals []string) {
		for _, v := range vals {
			n := l.seq.Load() + 1
			l.ring[n%purgeLogSize] = purgeRecord{seq: n, kind: kind, value: v}
			l.seq.Store(n)
		}
	}
	put('u', p.URLs)
	put('p', p.Prefixes)
	put('t', p.Tags)
}

// matchSince reports whether a purge recorded after position since matches the
// response stored under primary key key with tags.
func (l *purgeLog) matchSince(since uint64, key string, tags []string) bool {
	if l.seq.Load() == since {
		return false // no purge since: the common case costs one atomic load
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	last := l.seq.Load()
	if last-since >= purgeLogSize {
		return true
	}
	for n := since + 1; n <= last; n++ {
		r := l.ring[n%purgeLogSize]
		switch r.kind {
		case 'u':
			if r.value == key {
				return true
			}
		case 'p':
			if strings.HasPrefix(key, r.value) {
				return true
			}
		case 't':
			for _, t := range tags {
				if t == r.value {
					return true
				}
			}
		}
	}
	return false
}

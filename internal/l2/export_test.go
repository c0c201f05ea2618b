package l2

// RedisKey is where the tier keeps key in generation gen, for tests that write into Redis directly.
func RedisKey(gen int64, key string) string { return redisKey(gen, key) }

// Gen is the generation the tier uses now.
func (t *Tier) Gen() int64 { return t.gen.load() }

package main

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/caching-proxy/caching-proxy/internal/config"
)

func TestKeyAndCompressFlags(t *testing.T) {
	unsetProxyEnv(t)
	cfg, _, _, err := execute(t, "start", "--origin", "http://o.test")
	if err != nil || cfg == nil {
		t.Fatal(err)
	}
	if cfg.KeyIgnoreQuery != nil || cfg.KeyOnlyQuery != nil || cfg.KeySortQuery {
		t.Errorf("default key rules %q %q %v; want none (keys as sent)", cfg.KeyIgnoreQuery, cfg.KeyOnlyQuery, cfg.KeySortQuery)
	}
	if !cfg.Compress || cfg.CompressMinSize != 1024 || !reflect.DeepEqual(cfg.CompressTypes, config.DefaultCompressTypes) {
		t.Errorf("default compression %v %v %q", cfg.Compress, cfg.CompressMinSize, cfg.CompressTypes)
	}
	cfg, _, _, err = execute(t, "start", "--origin", "http://o.test", "--key-ignore-query", "utm_*,fbclid",
		"--key-ignore-query", "gclid", "--key-only-query", "id", "--key-sort-query",
		"--compress=false", "--compress-types", "text/*,application/json", "--compress-min-size", "2KiB")
	if err != nil || cfg == nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(cfg.KeyIgnoreQuery, []string{"utm_*", "fbclid", "gclid"}) || !reflect.DeepEqual(cfg.KeyOnlyQuery, []string{"id"}) || !cfg.KeySortQuery {
		t.Errorf("key rules %q %q %v", cfg.KeyIgnoreQuery, cfg.KeyOnlyQuery, cfg.KeySortQuery)
	}
	if cfg.Compress || cfg.CompressMinSize != 2048 || !reflect.DeepEqual(cfg.CompressTypes, []string{"text/*", "application/json"}) {
		t.Errorf("compression %v %v %q", cfg.Compress, cfg.CompressMinSize, cfg.CompressTypes)
	}
	t.Setenv("CACHING_PROXY_KEY_IGNORE_QUERY", "utm_*,msclkid")
	if cfg, _, _, err = execute(t, "--origin", "http://o.test"); err != nil || !reflect.DeepEqual(cfg.KeyIgnoreQuery, []string{"utm_*", "msclkid"}) {
		t.Errorf("from the environment: %v, %q", err, cfg.KeyIgnoreQuery)
	}
	for flag, args := range map[string][]string{
		"--key-ignore-query": {"--key-ignore-query", "a=b"},
		"--compress-types":   {"--compress-types", "text"},
	} {
		_, _, _, err := execute(t, append([]string{"start", "--origin", "http://o.test"}, args...)...)
		var ue usageError
		if err == nil || !errors.As(err, &ue) || !strings.Contains(err.Error(), flag) {
			t.Errorf("%q: error %v, want a usage error naming %s", args, err, flag)
		}
	}
}

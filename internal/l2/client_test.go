package l2

import (
	"strings"
	"testing"
)

func TestDialModeFromScheme(t *testing.T) {
	tests := []struct {
		url  string
		want mode
	}{
		{"redis://127.0.0.1:6379/0", single},
		{"rediss://cache.internal:6380", single},
		{"unix:///run/redis.sock?db=1", single},
		{"valkey://127.0.0.1:6379", single},
		{"valkeys://127.0.0.1:6380", single},
		// One seed address is still a cluster: the scheme decides, not the count.
		{"redis+cluster://127.0.0.1:7000", cluster},
		{"redis+cluster://u:p@127.0.0.1:7000?addr=127.0.0.1:7001&addr=127.0.0.1:7002", cluster},
		{"rediss+cluster://127.0.0.1:7000", cluster},
		{"valkey+cluster://127.0.0.1:7000", cluster},
		{"redis+sentinel://127.0.0.1:26379?addr=127.0.0.1:26380&master_name=cache", sentinel},
		{"valkey+sentinel://127.0.0.1:26379?master_name=cache", sentinel},
		// Two addresses are still a single server when the scheme says so.
		{"REDIS://127.0.0.1:6379", single},
	}
	for _, tt := range tests {
		ep, err := dial(tt.url, 0)
		if err != nil {
			t.Errorf("dial(%q): %v", tt.url, err)
			continue
		}
		if ep.mode != tt.want {
			t.Errorf("dial(%q) mode = %v, want %v", tt.url, ep.mode, tt.want)
		}
		_ = ep.client.Close()
	}
}

func TestDialRejects(t *testing.T) {
	tests := []struct{ url, want string }{
		{"http://127.0.0.1:6379", "unknown scheme"},
		{"redis://u:s3cret@127.0.0.1:6379/x", "database"},
		{"redis://u:s3cret@127.0.0.1:6379/%zz", "not a URL"},
		{"::", "not a URL"},
		{"redis+sentinel://u:s3cret@127.0.0.1:26379", "master_name"},
		{"redis+cluster://u:s3cret@127.0.0.1:7000?addr=nohostport", "addr"},
		{"redis+cluster://u:s3cret@127.0.0.1:7000?bogus=s3cret", "bogus"},
		{"redis+sentinel://127.0.0.1:26379?master_name=m&password=s3cret&bogus=1", "bogus"},
		{"redis+cluster+sentinel://127.0.0.1:7000", "unknown scheme"},
	}
	for _, tt := range tests {
		ep, err := dial(tt.url, 0)
		if err == nil {
			_ = ep.client.Close()
			t.Errorf("dial(%q) = nil error, want one saying %q", tt.url, tt.want)
			continue
		}
		msg := err.Error()
		if !strings.HasPrefix(msg, "--redis-url: ") || !strings.Contains(msg, tt.want) {
			t.Errorf("dial(%q) error = %q, want one naming --redis-url and saying %q", tt.url, msg, tt.want)
		}
		if strings.Contains(msg, "s3cret") {
			t.Errorf("dial(%q) error = %q: it repeats the password", tt.url, msg)
		}
	}
}

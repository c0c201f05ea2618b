package config

import (
	"strings"
	"testing"
)

func TestBytesSet(t *testing.T) {
	tests := []struct {
		in      string
		want    Bytes
		wantErr bool
	}{
		{"256MiB", 256 << 20, false},
		{"1GB", 1_000_000_000, false},
		{"4096", 4096, false},
		{"1.5KiB", 1536, false},
		{"lots", 0, true},
		{"-1MiB", 0, true},
		{"", 0, true},
	}
	for _, tt := range tests {
		var b Bytes
		err := b.Set(tt.in)
		if (err != nil) != tt.wantErr || (!tt.wantErr && b != tt.want) {
			t.Errorf("Set(%q) = %d, %v; want %d, err %v", tt.in, b, err, tt.want, tt.wantErr)
		}
	}
}

func TestValidate(t *testing.T) {
	ok := Default()
	ok.Origin = "https://api.example.com"
	tests := []struct {
		name     string
		mutate   func(*Config)
		wantFlag string // "" means valid
	}{
		{"defaults with origin", func(*Config) {}, ""},
		{"missing origin", func(c *Config) { c.Origin = "" }, "--origin"},
		{"origin without scheme", func(c *Config) { c.Origin = "api.example.com" }, "--origin"},
		{"ftp origin", func(c *Config) { c.Origin = "ftp://x" }, "--origin"},
		{"origin with query", func(c *Config) { c.Origin = "http://x/?a=1" }, "--origin"},
		{"port out of range", func(c *Config) { c.Port = 70000 }, "--port"},
		{"tiny cache", func(c *Config) { c.CacheSize = 10 }, "--cache-size"},
		{"object larger than cache", func(c *Config) { c.MaxObjectSize = c.CacheSize + 1 }, "--max-object-size"},
		{"public admin needs token", func(c *Config) { c.AdminAddr = "0.0.0.0:9000" }, "--admin-token"},
		{"public admin with token", func(c *Config) { c.AdminAddr = "0.0.0.0:9000"; c.AdminToken = "s" }, ""},
		{"bad admin addr", func(c *Config) { c.AdminAddr = "nonsense" }, "--admin-addr"},
		{"zero timeout", func(c *Config) { c.ConnectTimeout = 0 }, "--connect-timeout"},
		{"bad redis", func(c *Config) { c.RedisURL = "http://x" }, "--redis-url"},
		{"bad redis with a password", func(c *Config) { c.RedisURL = "http://u:s3cret@x" }, "--redis-url"},
		{"bad log level", func(c *Config) { c.LogLevel = "loud" }, "--log-level"},
		{"tls pair", func(c *Config) { c.TLSCert, c.TLSKey = "c.pem", "k.pem" }, ""},
		{"tls cert without key", func(c *Config) { c.TLSCert = "c.pem" }, "--tls-key"},
		{"tls key without cert", func(c *Config) { c.TLSKey = "k.pem" }, "--tls-cert"},
		{"tls 1.3 minimum", func(c *Config) { c.TLSMinVersion = "1.3" }, ""},
		{"tls 1.1 is deprecated", func(c *Config) { c.TLSMinVersion = "1.1" }, "--tls-min-version"},
		{"h2c alone", func(c *Config) { c.H2C = true }, ""},
		{"h2c with tls", func(c *Config) { c.H2C = true; c.TLSCert, c.TLSKey = "c.pem", "k.pem" }, "--h2c"},
		{"admin tls cert without key", func(c *Config) { c.AdminTLSCert = "c.pem" }, "--admin-tls-key"},
		{"admin tls key without cert", func(c *Config) { c.AdminTLSKey = "k.pem" }, "--admin-tls-cert"},
		{"key globs", func(c *Config) { c.KeyIgnoreQuery = []string{"utm_*", "fbclid"}; c.KeyOnlyQuery = []string{"id"} }, ""},
		{"spaces after commas are fine", func(c *Config) {
			c.KeyIgnoreQuery = []string{"utm_*", " fbclid"}
			c.CompressTypes = []string{"text/*", " application/json"}
		}, ""},
		{"empty key pattern", func(c *Config) { c.KeyIgnoreQuery = []string{"utm_*", ""} }, "--key-ignore-query"},
		{"key pattern with =", func(c *Config) { c.KeyOnlyQuery = []string{"id=1"} }, "--key-only-query"},
		{"key pattern with &", func(c *Config) { c.KeyIgnoreQuery = []string{"a&b"} }, "--key-ignore-query"},
		{"compress type patterns", func(c *Config) { c.CompressTypes = []string{"text/*", "application/*+json", "image/svg+xml"} }, ""},
		{"compress type without subtype", func(c *Config) { c.CompressTypes = []string{"text"} }, "--compress-types"},
		{"compress type */*", func(c *Config) { c.CompressTypes = []string{"*/*"} }, "--compress-types"},
		{"compress type with a partial glob", func(c *Config) { c.CompressTypes = []string{"text/ht*"} }, "--compress-types"},
		{"compress on with no types", func(c *Config) { c.CompressTypes = nil }, "--compress-types"},
		{"compress off with no types", func(c *Config) { c.Compress = false; c.CompressTypes = nil }, ""},
		{"bad access log format", func(c *Config) { c.AccessLogFormat = "xml" }, "--access-log-format"},
		{"empty access log", func(c *Config) { c.AccessLog = "" }, "--access-log"},
		{"access log to a file as json", func(c *Config) { c.AccessLog = "/tmp/a.log"; c.AccessLogFormat = "json" }, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := ok
			tt.mutate(&c)
			err := c.Validate()
			switch {
			case tt.wantFlag == "" && err != nil:
				t.Errorf("Validate() = %v, want nil", err)
			case tt.wantFlag != "" && (err == nil || !strings.Contains(err.Error(), tt.wantFlag)):
				t.Errorf("Validate() = %v, want an error naming %s", err, tt.wantFlag)
			case err != nil && strings.Contains(err.Error(), "s3cret"):
				t.Errorf("Validate() = %v: it repeats a password", err)
			}
		})
	}
}

func TestAdminDefault(t *testing.T) {
	c := Default()
	c.Port = 8080
	if got := c.Admin(); got != "127.0.0.1:8081" {
		t.Errorf("Admin() = %q, want 127.0.0.1:8081", got)
	}
}

func FuzzBytesSet(f *testing.F) {
	for _, s := range []string{"256MiB", "1GB", "0", "1e3", "9999999999999999999999PiB"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var b Bytes
		if err := b.Set(s); err == nil && b < 0 {
			t.Fatalf("Set(%q) gave negative %d", s, b)
		}
	})
}

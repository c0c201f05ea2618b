package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/caching-proxy/caching-proxy/internal/config"
)

func TestAccessLogFlags(t *testing.T) {
	unsetProxyEnv(t)
	cfg, _, _, err := execute(t, "--origin", "http://o.test")
	if err != nil || cfg.AccessLog != "-" || cfg.AccessLogFormat != "text" {
		t.Fatalf("defaults: %+v, %v; want text to stdout", cfg, err)
	}
	cfg, _, _, err = execute(t, "start", "--origin", "http://o.test", "--access-log", "/var/log/cp.log", "--access-log-format", "json")
	if err != nil || cfg.AccessLog != "/var/log/cp.log" || cfg.AccessLogFormat != "json" {
		t.Fatalf("flags: %+v, %v", cfg, err)
	}
	for _, args := range [][]string{
		{"--origin", "http://o.test", "--access-log-format", "xml"},
		{"--origin", "http://o.test", "--access-log", ""},
	} {
		_, _, _, err := execute(t, args...)
		var ue usageError
		if err == nil || !errors.As(err, &ue) || !strings.Contains(err.Error(), args[2]) {
			t.Errorf("%q: %v, want a usage error naming %s", args, err, args[2])
		}
	}
}

// varyOrigin answers per Accept-Language, and private on /private.
func varyOrigin(t *testing.T) *httptest.Server {
	o := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/private" {
			w.Header().Set("Cache-Control", "private, max-age=60")
		} else {
			w.Header().Set("Cache-Control", "max-age=60, stale-while-revalidate=30")
			w.Header().Set("Vary", "Accept-Language")
			w.Header().Set("ETag", `"`+r.Header.Get("Accept-Language")+`"`)
		}
		io.WriteString(w, "hello "+r.Header.Get("Accept-Language"))
	}))
	t.Cleanup(o.Close)
	return o
}

func runInspect(args ...string) (string, error) {
	var out bytes.Buffer
	cmd := newRootCmd(nil, clearCache)
	cmd.SetOut(&out)
	cmd.SetErr(io.Discard)
	cmd.SetArgs(append([]string{"inspect"}, args...))
	err := cmd.Execute()
	return out.String(), err
}

// TestInspect: the inspect command and the JSON under it, behind the admin token.
func TestInspect(t *testing.T) {
	t.Parallel()
	p := startProxy(t, varyOrigin(t).URL, func(c *config.Config) { c.AdminToken = "s3cret" })
	c := httpClient(t)
	send(t, c, "GET", p.url+"/p?q=1", "Accept-Language", "de")
	send(t, c, "GET", p.url+"/p?q=1", "Accept-Language", "fr")
	send(t, c, "GET", p.url+"/private")

	for _, path := range []string{"/cache/entries?url=/p?q=1", "/cache/explain?url=/p", "/cache/entries?prefix=/"} {
		if resp, _ := send(t, c, "GET", "http://"+p.admin+path); resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("GET %s without token = %d, want 401", path, resp.StatusCode)
		}
	}
	resp, body := send(t, c, "GET", "http://"+p.admin+"/cache/entries?url="+"%2Fp%3Fq%3D1", "Authorization", "Bearer s3cret")
	var es struct {
		Key     string
		Entries []struct {
			Request map[string]string
			ETag    string
			TTL     int64
			Tiers   []string
		}
	}
	if err := json.Unmarshal([]byte(body), &es); err != nil || resp.StatusCode != 200 {
		t.Fatalf("entries: %d %s: %v", resp.StatusCode, body, err)
	}
	if es.Key != "/p?q=1" || len(es.Entries) != 2 {
		t.Fatalf("entries: %s", body)
	}

	if _, err := runInspect("--admin-addr", p.admin, "/p?q=1"); err == nil || !strings.Contains(err.Error(), "--admin-token") {
		t.Errorf("inspect without token: %v, want an error naming --admin-token", err)
	}
	out, err := runInspect("--admin-addr", p.admin, "--admin-token", "s3cret", "/p?q=1")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"/p?q=1\n", "last origin response: 200 to GET", "stored", "Accept-Language=de", "Accept-Language=fr",
		`ETag "de"`, "VARIANT", "local", "30s"} {
		if !strings.Contains(out, want) {
			t.Errorf("inspect output lacks %q:\n%s", want, out)
		}
	}
	out, err = runInspect("--admin-addr", p.admin, "--admin-token", "s3cret", p.url+"/private")
	if err != nil || !strings.Contains(out, "not stored: private") || !strings.Contains(out, "nothing stored") {
		t.Errorf("inspect /private: %v\n%s", err, out)
	}
	out, err = runInspect("--admin-addr", p.admin, "--admin-token", "s3cret", "--prefix", "/p")
	if err != nil || out != "/p?q=1\n" {
		t.Errorf("inspect --prefix /p = %q, %v", out, err)
	}
}

// TestAccessLogFileReopensOnSIGHUP is logrotate against the running proxy: rename
// the file, send SIGHUP, and the next line goes to a new file at the path.
func TestAccessLogFileReopensOnSIGHUP(t *testing.T) {
	path := filepath.Join(t.TempDir(), "access.log")
	p := startProxy(t, varyOrigin(t).URL, func(c *config.Config) { c.AccessLog, c.AccessLogFormat = path, "json" })
	c := httpClient(t)
	send(t, c, "GET", p.url+"/before")
	waitLines(t, path, 1)
	if err := os.Rename(path, path+".1"); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for _, err := os.Stat(path); err != nil; _, err = os.Stat(path) {
		if time.Now().After(deadline) {
			t.Fatal("no new file after SIGHUP")
		}
		time.Sleep(10 * time.Millisecond)
	}
	send(t, c, "GET", p.url+"/after")
	_, metrics := send(t, c, "GET", "http://"+p.admin+"/metrics")
	if !strings.Contains(metrics, "caching_proxy_access_log_dropped_total 0") {
		t.Errorf("metrics lack caching_proxy_access_log_dropped_total 0")
	}
	p.cancel()
	<-p.done
	p.done <- nil // for the cleanup
	for name, want := range map[string]string{path + ".1": `"target":"/before"`, path: `"target":"/after"`} {
		lines := waitLines(t, name, 1)
		if len(lines) != 1 || !strings.Contains(lines[0], want) || !json.Valid([]byte(lines[0])) {
			t.Errorf("%s: %q, want one JSON line with %s", name, lines, want)
		}
	}
}

// waitLines waits until the file at path has at least n lines, and returns them.
func waitLines(t *testing.T, path string, n int) []string {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		var lines []string
		if f, err := os.Open(path); err == nil {
			sc := bufio.NewScanner(f)
			for sc.Scan() {
				lines = append(lines, sc.Text())
			}
			f.Close()
		}
		if len(lines) >= n || time.Now().After(deadline) {
			return lines
		}
		time.Sleep(10 * time.Millisecond)
	}
}

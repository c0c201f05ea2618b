package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/caching-proxy/caching-proxy/internal/config"
	"github.com/caching-proxy/caching-proxy/internal/l2/redistest"
)

// runningProxy is runProxy serving on loopback ports in the background.
type runningProxy struct {
	url, admin string // http://host:port of the public listener; host:port of the admin one
	cancel     context.CancelFunc
	done       chan error // runProxy's result
}

// startProxy runs runProxy(ctx, cfg) with cfg from config.Default(), origin and free
// loopback ports, tweaked by tweak, and waits until the public port answers.
func startProxy(t *testing.T, origin string, tweak ...func(*config.Config)) *runningProxy {
	t.Helper()
	cfg := config.Default()
	cfg.Origin, cfg.Host, cfg.Port = origin, "127.0.0.1", redistest.FreePort(t)
	cfg.AdminAddr = net.JoinHostPort("127.0.0.1", strconv.Itoa(redistest.FreePort(t)))
	cfg.LogLevel = "error"
	cfg.AccessLog = "off"
	for _, f := range tweak {
		f(&cfg)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	scheme := "http://"
	if cfg.TLS() {
		scheme = "https://"
	}
	p := &runningProxy{url: scheme + cfg.Listen(), admin: cfg.Admin(), cancel: cancel, done: make(chan error, 1)}
	go func() { p.done <- runProxy(ctx, cfg) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-p.done:
		case <-time.After(20 * time.Second):
			t.Error("runProxy did not return within 20s of cancel")
		}
	})
	deadline := time.Now().Add(5 * time.Second)
	for {
		c, err := net.Dial("tcp", cfg.Listen())
		if err == nil {
			c.Close()
			return p
		}
		select {
		case err := <-p.done:
			t.Fatalf("runProxy returned early: %v", err)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("proxy not listening on %s after 5s: %v", cfg.Listen(), err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// countingOrigin answers max-age=60 responses and counts requests.
func countingOrigin(t *testing.T, calls *atomic.Int64) *httptest.Server {
	t.Helper()
	o := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		w.Header().Set("Cache-Control", "max-age=60")
		io.WriteString(w, "origin "+r.URL.Path)
	}))
	t.Cleanup(o.Close)
	return o
}

func httpClient(t *testing.T) *http.Client {
	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 10 * time.Second}
}

func send(t *testing.T, c *http.Client, method, url string, header ...string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

func TestOversizedHeaderIs431(t *testing.T) {
	t.Parallel()
	var calls atomic.Int64
	p := startProxy(t, countingOrigin(t, &calls).URL)
	addr := strings.TrimPrefix(p.url, "http://")
	status := func(headerBytes int) int {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(5 * time.Second))
		// Written whole before reading; it fits in loopback socket buffers.
		fmt.Fprintf(c, "GET /h HTTP/1.1\r\nHost: proxy\r\nX-Big: %s\r\n\r\n", strings.Repeat("a", headerBytes))
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatalf("%d header bytes: %v", headerBytes, err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	// net/http allows maxHeaderBytes plus 4 KiB of read-buffer slack.
	if got := status(maxHeaderBytes / 2); got != http.StatusOK {
		t.Errorf("header of %d bytes: %d, want 200", maxHeaderBytes/2, got)
	}
	if got := status(maxHeaderBytes + 8<<10); got != http.StatusRequestHeaderFieldsTooLarge {
		t.Errorf("header of %d bytes: %d, want 431", maxHeaderBytes+8<<10, got)
	}
	if n := calls.Load(); n != 1 {
		t.Errorf("origin saw %d requests, want 1 (not the oversized one)", n)
	}
}

// TestStalledHeaderIsDropped takes readHeaderTimeout (10s); it runs in parallel with the others.
func TestStalledHeaderIsDropped(t *testing.T) {
	if testing.Short() {
		t.Skip("waits out readHeaderTimeout")
	}
	t.Parallel()
	var calls atomic.Int64
	p := startProxy(t, countingOrigin(t, &calls).URL)
	c, err := net.Dial("tcp", strings.TrimPrefix(p.url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	start := time.Now()
	io.WriteString(c, "GET /slow HTTP/1.1\r\nHost: proxy\r\nX-Slow: a") // and nothing more
	_ = c.SetReadDeadline(time.Now().Add(readHeaderTimeout + 5*time.Second))
	n, err := c.Read(make([]byte, 512))
	took := time.Since(start)
	var ne net.Error
	switch {
	case errors.As(err, &ne) && ne.Timeout():
		t.Fatalf("connection still open %v after a stalled header, want it closed after %v", took, readHeaderTimeout)
	case err == nil:
		t.Fatalf("got %d bytes, want the connection closed", n)
	case took < readHeaderTimeout-time.Second:
		t.Errorf("closed after %v, before readHeaderTimeout %v", took, readHeaderTimeout)
	}
	if calls.Load() != 0 {
		t.Error("a stalled request reached the origin")
	}
}

func TestShutdownDrainsRequestsInFlight(t *testing.T) {
	t.Parallel()
	arrived, release := make(chan struct{}), make(chan struct{})
	o := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(arrived)
		select {
		case <-release:
		case <-time.After(10 * time.Second):
		}
		io.WriteString(w, "finished")
	}))
	defer o.Close()
	p := startProxy(t, o.URL)
	type answer struct {
		status int
		body   string
		err    error
	}
	got := make(chan answer, 1)
	client := httpClient(t)
	go func() {
		resp, err := client.Get(p.url + "/slow")
		if err != nil {
			got <- answer{err: err}
			return
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		got <- answer{resp.StatusCode, string(b), err}
	}()
	select {
	case <-arrived:
	case <-time.After(5 * time.Second):
		t.Fatal("request never reached the origin")
	}
	p.cancel() // SIGTERM
	// New connections are refused while the request in flight continues.
	addr := strings.TrimPrefix(p.url, "http://")
	deadline := time.Now().Add(5 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err != nil {
			break
		}
		c.Close()
		if time.Now().After(deadline) {
			t.Fatal("public listener still accepting 5s after shutdown began")
		}
		time.Sleep(10 * time.Millisecond)
	}
	select {
	case err := <-p.done:
		t.Fatalf("runProxy returned %v before the request in flight finished", err)
	default:
	}
	close(release)
	select {
	case a := <-got:
		if a.err != nil || a.status != 200 || a.body != "finished" {
			t.Errorf("request in flight got %d %q %v, want 200 %q", a.status, a.body, a.err, "finished")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("request in flight did not complete")
	}
	select {
	case err := <-p.done:
		if err != nil {
			t.Errorf("runProxy = %v, want nil after a drained shutdown", err)
		}
		p.done <- err // for the cleanup
	case <-time.After(10 * time.Second):
		t.Fatal("runProxy did not return after draining")
	}
}

func TestAdminAddrOffLoopbackNeedsToken(t *testing.T) {
	for _, tt := range []struct {
		addr, token string
		ok          bool
	}{
		{"0.0.0.0:3001", "", false},
		{"192.0.2.10:3001", "", false},
		{"[::]:3001", "", false},
		{"0.0.0.0:3001", "s3cret", true},
		{"127.0.0.1:3001", "", true},
		{"localhost:3001", "", true},
		{"[::1]:3001", "", true},
		{"", "", true}, // 127.0.0.1:<port+1>
	} {
		cfg := config.Default()
		cfg.Origin, cfg.AdminAddr, cfg.AdminToken = "http://o.test", tt.addr, tt.token
		err := cfg.Validate()
		if (err == nil) != tt.ok {
			t.Errorf("admin %q token %q: Validate() = %v, want ok %v", tt.addr, tt.token, err, tt.ok)
		}
		if err != nil && !strings.Contains(err.Error(), "--admin-token") {
			t.Errorf("admin %q: error %q does not name --admin-token", tt.addr, err)
		}
	}
}

func TestAdminTokenGuardsClear(t *testing.T) {
	t.Parallel()
	var calls atomic.Int64
	p := startProxy(t, countingOrigin(t, &calls).URL, func(c *config.Config) { c.AdminToken = "s3cret" })
	c := httpClient(t)
	send(t, c, "GET", p.url+"/a")
	if resp, _ := send(t, c, "GET", p.url+"/a"); resp.Header.Get("X-Cache") != "HIT" {
		t.Fatalf("second GET X-Cache = %q, want HIT", resp.Header.Get("X-Cache"))
	}
	for _, auth := range []string{"", "Bearer wrong", "s3cret", "Basic czNjcmV0"} {
		resp, _ := send(t, c, "POST", "http://"+p.admin+"/cache/clear", "Authorization", auth)
		if resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("clear with Authorization %q = %d, want 401", auth, resp.StatusCode)
		}
	}
	if resp, _ := send(t, c, "GET", p.url+"/a"); resp.Header.Get("X-Cache") != "HIT" || calls.Load() != 1 {
		t.Errorf("after refused clears: X-Cache %q, origin calls %d; want HIT and 1", resp.Header.Get("X-Cache"), calls.Load())
	}
	for _, path := range []string{"/healthz", "/metrics"} { // public on the admin listener
		if resp, _ := send(t, c, "GET", "http://"+p.admin+path); resp.StatusCode != 200 {
			t.Errorf("GET %s without token = %d, want 200", path, resp.StatusCode)
		}
	}

	// clear-cache, the command, against the running admin listener.
	var out bytes.Buffer
	cmd := newRootCmd(nil, clearCache)
	cmd.SetOut(&out)
	cmd.SetArgs([]string{"clear-cache", "--admin-addr", p.admin})
	if err := cmd.Execute(); err == nil || !strings.Contains(err.Error(), "--admin-token") {
		t.Errorf("clear-cache without token: %v, want an error naming --admin-token", err)
	}
	cmd = newRootCmd(nil, clearCache)
	cmd.SetOut(&out)
	cmd.SetArgs([]string{"clear-cache", "--admin-addr", p.admin, "--admin-token", "s3cret"})
	if err := cmd.Execute(); err != nil {
		t.Fatal(err)
	}
	re := regexp.MustCompile(`^cleared ([1-9][0-9]*) entries \([0-9.]+ (B|KiB)\) from the cache at ` + regexp.QuoteMeta(p.admin) + "\n$")
	if !re.MatchString(out.String()) {
		t.Errorf("clear-cache printed %q, want it to match %s", out.String(), re)
	}
	if resp, _ := send(t, c, "GET", p.url+"/a"); resp.Header.Get("X-Cache") != "MISS" || calls.Load() != 2 {
		t.Errorf("after clear: X-Cache %q, origin calls %d; want MISS and 2", resp.Header.Get("X-Cache"), calls.Load())
	}
}

func TestClearCacheWithNothingListening(t *testing.T) {
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(redistest.FreePort(t)))
	_, err := clearCache(context.Background(), clearTarget{AdminAddr: addr})
	if err == nil || !strings.Contains(err.Error(), "no caching-proxy answers at "+addr) {
		t.Errorf("clearCache with nothing at %s = %v, want %q", addr, err, "no caching-proxy answers at "+addr)
	}
}

// unsetProxyEnv removes every CACHING_PROXY_ variable for the test, restoring them after.
func unsetProxyEnv(t *testing.T) {
	for _, kv := range os.Environ() {
		if name, _, _ := strings.Cut(kv, "="); strings.HasPrefix(name, envPrefix) {
			t.Setenv(name, "") // records the old value for restoring
			os.Unsetenv(name)
		}
	}
}

// execute runs the root command with args and fake run/clear functions, and reports
// what they were given.
func execute(t *testing.T, args ...string) (cfg *config.Config, target *clearTarget, out string, err error) {
	t.Helper()
	run := func(_ context.Context, c config.Config) error { cfg = &c; return nil }
	clear := func(_ context.Context, ct clearTarget) (string, error) { target = &ct; return "cleared (fake)", nil }
	var buf bytes.Buffer
	cmd := newRootCmd(run, clear)
	cmd.SetOut(&buf)
	cmd.SetErr(io.Discard)
	cmd.SetArgs(args)
	err = cmd.Execute()
	return cfg, target, buf.String(), err
}

func TestBadFlagsAreUsageErrors(t *testing.T) {
	unsetProxyEnv(t)
	for _, tt := range []struct {
		args []string
		flag string // the error names it
	}{
		{[]string{"--cache-size", "lots", "--origin", "http://o.test"}, "--cache-size"},
		{[]string{"--port", "eighty"}, "--port"},
		{[]string{"--nope"}, "--nope"},
		{[]string{"start", "--body-timeout", "soon", "--origin", "http://o.test"}, "--body-timeout"},
		{[]string{"start", "--origin", "ftp://x"}, "--origin"},
		{[]string{"--origin", "ftp://x"}, "--origin"},
		{[]string{"--origin", "http://o.test", "--max-object-size", "1GiB"}, "--max-object-size"},
		{[]string{"--origin", "http://o.test", "--admin-addr", "0.0.0.0:9"}, "--admin-token"},
		{[]string{"clear-cache", "--port", "p"}, "--port"},
	} {
		cfg, _, _, err := execute(t, tt.args...)
		var ue usageError
		switch {
		case err == nil:
			t.Errorf("%q: no error", tt.args)
		case !errors.As(err, &ue):
			t.Errorf("%q: %v is not a usageError (exit code 2)", tt.args, err)
		case !strings.Contains(err.Error(), tt.flag):
			t.Errorf("%q: error %q does not name %s", tt.args, err, tt.flag)
		}
		if cfg != nil {
			t.Errorf("%q: run was called", tt.args)
		}
	}
}

func TestEnvironmentAndFlags(t *testing.T) {
	unsetProxyEnv(t)
	t.Setenv("CACHING_PROXY_ORIGIN", "http://env.test")
	t.Setenv("CACHING_PROXY_CACHE_SIZE", "64MiB")
	for _, prefix := range [][]string{nil, {"start"}} {
		cfg, _, _, err := execute(t, prefix...)
		if err != nil || cfg == nil {
			t.Fatalf("%q with env: %v (run called: %v)", prefix, err, cfg != nil)
		}
		if cfg.Origin != "http://env.test" || cfg.CacheSize != 64<<20 {
			t.Errorf("%q: origin %q, cache size %v; want the environment's", prefix, cfg.Origin, cfg.CacheSize)
		}
		cfg, _, _, err = execute(t, append(prefix, "--origin", "http://flag.test", "--cache-size", "32MiB")...)
		if err != nil || cfg == nil {
			t.Fatalf("%q with flags: %v", prefix, err)
		}
		if cfg.Origin != "http://flag.test" || cfg.CacheSize != 32<<20 {
			t.Errorf("%q: origin %q, cache size %v; want the flags' over the environment's", prefix, cfg.Origin, cfg.CacheSize)
		}
	}
	t.Setenv("CACHING_PROXY_CACHE_SIZE", "lots")
	_, _, _, err := execute(t)
	var ue usageError
	if err == nil || !errors.As(err, &ue) || !strings.Contains(err.Error(), "CACHING_PROXY_CACHE_SIZE") || !strings.Contains(err.Error(), "--cache-size") {
		t.Errorf("bad environment value: %v, want a usage error naming CACHING_PROXY_CACHE_SIZE and --cache-size", err)
	}
}

func TestClearCacheTargets(t *testing.T) {
	unsetProxyEnv(t)
	for _, tt := range []struct {
		args       []string
		addr, auth string
	}{
		{[]string{"--clear-cache"}, "127.0.0.1:3001", ""},
		{[]string{"--clear-cache", "--port", "8080"}, "127.0.0.1:8081", ""},
		{[]string{"clear-cache"}, "127.0.0.1:3001", ""},
		{[]string{"clear-cache", "--port", "8080"}, "127.0.0.1:8081", ""},
		{[]string{"clear-cache", "--admin-addr", "10.0.0.5:3001", "--admin-token", "T"}, "10.0.0.5:3001", "T"},
	} {
		cfg, target, out, err := execute(t, tt.args...)
		switch {
		case err != nil:
			t.Errorf("%q: %v", tt.args, err)
		case cfg != nil:
			t.Errorf("%q: started the proxy", tt.args)
		case target == nil:
			t.Errorf("%q: clear not called", tt.args)
		case target.addr() != tt.addr || target.Token != tt.auth:
			t.Errorf("%q: clear targeted %s with token %q, want %s with %q", tt.args, target.addr(), target.Token, tt.addr, tt.auth)
		case out != "cleared (fake)\n":
			t.Errorf("%q: printed %q, want the clear's message", tt.args, out)
		}
	}
	t.Setenv("CACHING_PROXY_PORT", "8080")
	if _, target, _, err := execute(t, "clear-cache"); err != nil || target == nil || target.addr() != "127.0.0.1:8081" {
		t.Errorf("clear-cache with CACHING_PROXY_PORT=8080: %v, target %+v; want 127.0.0.1:8081", err, target)
	}
}

// TestMainExitCodes runs main in a child process: 2 for a usage error, 1 for a failure.
func TestMainExitCodes(t *testing.T) {
	if args, ok := os.LookupEnv("CPTEST_MAIN_ARGS"); ok {
		os.Args = append([]string{"caching-proxy"}, strings.Fields(args)...)
		main()
		os.Exit(0)
	}
	nobody := net.JoinHostPort("127.0.0.1", strconv.Itoa(redistest.FreePort(t)))
	for _, tt := range []struct {
		args string
		code int
	}{
		{"--cache-size lots --origin http://127.0.0.1:1", 2},
		{"--origin ftp://x", 2},
		{"start --nope", 2},
		{"clear-cache --admin-addr " + nobody, 1},
		{"--version", 0},
	} {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestMainExitCodes$")
		var env []string
		for _, kv := range os.Environ() {
			if !strings.HasPrefix(kv, envPrefix) {
				env = append(env, kv)
			}
		}
		cmd.Env = append(env, "CPTEST_MAIN_ARGS="+tt.args)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		err := cmd.Run()
		cancel()
		code := 0
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatalf("%s: %v", tt.args, err)
		}
		if code != tt.code {
			t.Errorf("caching-proxy %s exited %d, want %d; stderr %q", tt.args, code, tt.code, stderr.String())
		}
	}
}

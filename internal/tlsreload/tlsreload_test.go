package tlsreload

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/caching-proxy/caching-proxy/internal/tlsreload/tlstest"
)

// syncBuffer is a log sink the watcher goroutine and the test share.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func newCert(t *testing.T, certFile, keyFile string) (*Cert, *syncBuffer) {
	t.Helper()
	logs := &syncBuffer{}
	c, err := Load(certFile, keyFile, slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	if err != nil {
		t.Fatal(err)
	}
	return c, logs
}

func serving(c *Cert) string {
	kp, _ := c.GetCertificate(nil)
	return kp.Leaf.Subject.CommonName
}

func TestLoadChecksThePair(t *testing.T) {
	dir := t.TempDir()
	a, b := tlstest.New(t, "a"), tlstest.New(t, "b")
	certFile, keyFile := a.Write(t, dir)
	if _, err := Load(certFile, keyFile, nil); err != nil {
		t.Fatalf("Load(matching pair) = %v", err)
	}
	tlstest.WriteFile(t, keyFile, b.KeyPEM)
	if _, err := Load(certFile, keyFile, nil); err == nil || !strings.Contains(err.Error(), "private key does not match") {
		t.Errorf("Load(key of another certificate) = %v, want a mismatch error", err)
	}
	if _, err := Load(filepath.Join(dir, "missing.crt"), keyFile, nil); err == nil || !strings.Contains(err.Error(), "missing.crt") {
		t.Errorf("Load(missing file) = %v, want an error naming it", err)
	}
}

func TestReloadKeepsTheOldCertificateOnFailure(t *testing.T) {
	dir := t.TempDir()
	a, b := tlstest.New(t, "a"), tlstest.New(t, "b")
	certFile, keyFile := a.Write(t, dir)
	c, logs := newCert(t, certFile, keyFile)

	for name, write := range map[string]func(){
		"key of another certificate": func() { tlstest.WriteFile(t, keyFile, b.KeyPEM) },
		"half-written certificate": func() {
			tlstest.WriteFile(t, certFile, b.CertPEM[:len(b.CertPEM)/2])
			tlstest.WriteFile(t, keyFile, b.KeyPEM)
		},
		"empty key": func() { tlstest.WriteFile(t, keyFile, nil) },
	} {
		a.Write(t, dir)
		write()
		if err := c.Reload(); err == nil {
			t.Errorf("%s: Reload() = nil, want an error", name)
		}
		if got := serving(c); got != "a" {
			t.Errorf("%s: serving %q after a failed reload, want the old %q", name, got, "a")
		}
	}
	if !strings.Contains(logs.String(), "reload failed, still serving the previous certificate") {
		t.Errorf("failed reloads were not logged:\n%s", logs)
	}

	b.Write(t, dir)
	if err := c.Reload(); err != nil {
		t.Fatalf("Reload(good pair) = %v", err)
	}
	if got := serving(c); got != "b" {
		t.Errorf("serving %q after a good reload, want %q", got, "b")
	}
	if !strings.Contains(logs.String(), "tls: certificate reloaded") {
		t.Errorf("the reload was not logged:\n%s", logs)
	}
}

// watch runs c.Watch until the test ends.
func watch(t *testing.T, c *Cert) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Watch(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Watch() = %v", err)
		}
	})
	// The watch is set up asynchronously; give it a moment before the first change.
	time.Sleep(50 * time.Millisecond)
}

func waitServing(t *testing.T, c *Cert, want string, logs *syncBuffer) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for serving(c) != want {
		if time.Now().After(deadline) {
			t.Fatalf("still serving %q 10s after the change, want %q; log:\n%s", serving(c), want, logs)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestWatchSeesRenameIntoPlace(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile := tlstest.New(t, "a").Write(t, dir)
	c, logs := newCert(t, certFile, keyFile)
	watch(t, c)
	tlstest.New(t, "b").Write(t, dir) // rename over the old files, as certbot does
	waitServing(t, c, "b", logs)
}

func TestWatchSeesInPlaceRewrite(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile := tlstest.New(t, "a").Write(t, dir)
	c, logs := newCert(t, certFile, keyFile)
	watch(t, c)
	b := tlstest.New(t, "b")
	if err := os.WriteFile(certFile, b.CertPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, b.KeyPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	waitServing(t, c, "b", logs)
}

// A Kubernetes Secret volume holds tls.crt -> ..data/tls.crt, where ..data is a symlink
// to a timestamped directory; an update writes a new directory and renames a new
// symlink over ..data. The files named in the flags never change themselves.
func TestWatchSeesKubernetesSecretUpdate(t *testing.T) {
	dir := t.TempDir()
	version := func(name string, p tlstest.Pair) {
		d := filepath.Join(dir, name)
		if err := os.Mkdir(d, 0o700); err != nil {
			t.Fatal(err)
		}
		p.Write(t, d)
		if err := os.Symlink(name, filepath.Join(dir, "..data_tmp")); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(filepath.Join(dir, "..data_tmp"), filepath.Join(dir, "..data")); err != nil {
			t.Fatal(err)
		}
	}
	version("..2026_01_01_00_00_00.1", tlstest.New(t, "a"))
	for _, f := range []string{"tls.crt", "tls.key"} {
		if err := os.Symlink(filepath.Join("..data", f), filepath.Join(dir, f)); err != nil {
			t.Fatal(err)
		}
	}
	c, logs := newCert(t, filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key"))
	watch(t, c)
	version("..2026_01_01_00_00_00.2", tlstest.New(t, "b"))
	if err := os.RemoveAll(filepath.Join(dir, "..2026_01_01_00_00_00.1")); err != nil {
		t.Fatal(err)
	}
	waitServing(t, c, "b", logs)
}

// A certificate written now and its key a moment later: the first reload fails (or is
// folded into one by the settling time), the old certificate stays until the key lands.
func TestWatchWaitsForTheMatchingKey(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile := tlstest.New(t, "a").Write(t, dir)
	c, logs := newCert(t, certFile, keyFile)
	watch(t, c)
	b := tlstest.New(t, "b")
	tlstest.WriteFile(t, certFile, b.CertPEM)
	time.Sleep(3 * settle)
	if got := serving(c); got != "a" {
		t.Fatalf("serving %q with a new certificate and the old key, want the old %q", got, "a")
	}
	if !strings.Contains(logs.String(), "reload failed") {
		t.Errorf("the mismatched pair was not logged:\n%s", logs)
	}
	tlstest.WriteFile(t, keyFile, b.KeyPEM)
	waitServing(t, c, "b", logs)
}

// Some tools replace the whole directory: the watch follows the new one.
func TestWatchSeesTheDirectoryReplaced(t *testing.T) {
	for _, how := range []string{"renamed away", "removed"} {
		t.Run(how, func(t *testing.T) {
			parent := t.TempDir()
			dir := filepath.Join(parent, "certs")
			if err := os.Mkdir(dir, 0o700); err != nil {
				t.Fatal(err)
			}
			certFile, keyFile := tlstest.New(t, "a").Write(t, dir)
			c, logs := newCert(t, certFile, keyFile)
			watch(t, c)
			var err error
			if how == "removed" {
				err = os.RemoveAll(dir)
			} else {
				err = os.Rename(dir, filepath.Join(parent, "old"))
			}
			if err != nil {
				t.Fatal(err)
			}
			time.Sleep(2 * settle) // the directory is missing for a while
			if err := os.Mkdir(dir, 0o700); err != nil {
				t.Fatal(err)
			}
			tlstest.New(t, "b").Write(t, dir)
			waitServing(t, c, "b", logs)
		})
	}
}

func TestWatchFailsOnAMissingDirectory(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile := tlstest.New(t, "a").Write(t, dir)
	c, _ := newCert(t, certFile, keyFile)
	c.keyFile = filepath.Join(dir, "gone", "tls.key")
	if err := c.Watch(context.Background()); err == nil {
		t.Error("Watch() with a missing directory = nil, want an error")
	}
}

// Package tlsreload holds the certificate a TLS listener presents and replaces it
// without a restart: when asked (SIGHUP) and when its files change on disk. A reload
// that fails (a half-written file, a key that does not match) keeps the certificate in
// use and reports why. A certificate matters only during a handshake, so connections
// already established are never touched. It imports no other internal package.
package tlsreload

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// Cert is a certificate and key loaded from two PEM files, safe for concurrent use.
// Its GetCertificate goes in tls.Config.GetCertificate.
type Cert struct {
	certFile, keyFile string
	log               *slog.Logger

	cur atomic.Pointer[tls.Certificate]
	mu  sync.Mutex // one reload at a time
}

// Load reads the pair once; an error here is a configuration mistake the caller reports.
// log receives one line per reload (nil discards them).
func Load(certFile, keyFile string, log *slog.Logger) (*Cert, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	c := &Cert{certFile: certFile, keyFile: keyFile, log: log}
	kp, err := load(certFile, keyFile)
	if err != nil {
		return nil, err
	}
	c.cur.Store(kp)
	return c, nil
}

// load reads and checks a pair: both files parse and the key belongs to the certificate
// (tls.LoadX509KeyPair checks that).
func load(certFile, keyFile string) (*tls.Certificate, error) {
	kp, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("load %s and %s: %w", certFile, keyFile, err)
	}
	if kp.Leaf == nil {
		if kp.Leaf, err = x509.ParseCertificate(kp.Certificate[0]); err != nil {
			return nil, fmt.Errorf("load %s: %w", certFile, err)
		}
	}
	return &kp, nil
}

// GetCertificate returns the certificate in force; it never fails once Load succeeded.
func (c *Cert) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	return c.cur.Load(), nil
}

// Leaf is the parsed leaf certificate in force.
func (c *Cert) Leaf() *x509.Certificate { return c.cur.Load().Leaf }

// Files names the certificate and key files.
func (c *Cert) Files() (cert, key string) { return c.certFile, c.keyFile }

// Reload reads the files again. On success later handshakes present the new
// certificate; on failure the old one stays and the error says why. Both are logged.
// Reloading an unchanged pair is a no-op logged at debug level.
func (c *Cert) Reload() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	kp, err := load(c.certFile, c.keyFile)
	old := c.cur.Load()
	if err != nil {
		c.log.Error("tls: reload failed, still serving the previous certificate", "cert", c.certFile,
			"err", err, "serving_serial", serial(old.Leaf), "serving_not_after", old.Leaf.NotAfter)
		return err
	}
	if sameChain(old, kp) {
		c.log.Debug("tls: certificate unchanged", "cert", c.certFile)
		return nil
	}
	c.cur.Store(kp)
	attrs := []any{"cert", c.certFile, "subject", kp.Leaf.Subject.String(), "dns_names", kp.Leaf.DNSNames,
		"serial", serial(kp.Leaf), "not_after", kp.Leaf.NotAfter}
	if now := time.Now(); now.After(kp.Leaf.NotAfter) || now.Before(kp.Leaf.NotBefore) {
		c.log.Warn("tls: certificate reloaded, but it is not valid now", attrs...)
	} else {
		c.log.Info("tls: certificate reloaded", attrs...)
	}
	return nil
}

// serial prints a certificate's serial number in hex, as openssl x509 -serial does.
func serial(c *x509.Certificate) string { return fmt.Sprintf("%X", c.SerialNumber) }

func sameChain(a, b *tls.Certificate) bool {
	if len(a.Certificate) != len(b.Certificate) {
		return false
	}
	for i := range a.Certificate {
		if !bytes.Equal(a.Certificate[i], b.Certificate[i]) {
			return false
		}
	}
	return true
}

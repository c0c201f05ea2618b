package redistest

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// Sentinel is a master, its replica and three sentinels watching them, all real
// redis-server processes on free loopback ports (the sentinels run as
// redis-server --sentinel, which is what Debian's redis-sentinel package starts).
type Sentinel struct {
	t         *testing.T
	Master    *Server
	Replica   *Server
	Sentinels []*Server
}

// MasterName is the name the sentinels monitor the master by.
const MasterName = "cp"

// StartSentinel starts the set for t, waits until the replica is in sync and each
// sentinel knows the replica and the other two sentinels, and stops it all when t
// ends. A master that does not answer for a second is failed over.
func StartSentinel(t *testing.T) *Sentinel {
	t.Helper()
	s := &Sentinel{t: t}
	s.Master = Start(t)
	s.Replica = start(t, FreePort(t), []string{"--replicaof", "127.0.0.1", strconv.Itoa(s.Master.Port())})
	for range 3 {
		port := FreePort(t)
		dir := t.TempDir()
		conf := filepath.Join(dir, "sentinel.conf") // a sentinel rewrites its config file
		body := "port " + strconv.Itoa(port) + "\nbind 127.0.0.1\ndir " + dir + "\n" +
			"sentinel resolve-hostnames no\n" +
			"sentinel monitor " + MasterName + " 127.0.0.1 " + strconv.Itoa(s.Master.Port()) + " 2\n" +
			"sentinel down-after-milliseconds " + MasterName + " 1000\n" +
			"sentinel failover-timeout " + MasterName + " 5000\n" +
			"sentinel parallel-syncs " + MasterName + " 1\n"
		if err := os.WriteFile(conf, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		bin := need(t, "redis-server", "redis-server")
		sv := &Server{t: t, bin: bin, port: port, dir: dir, args: []string{conf, "--sentinel"}}
		sv.Restart()
		t.Cleanup(sv.Stop)
		s.Sentinels = append(s.Sentinels, sv)
	}
	s.waitFor("the sentinels to know each other and the replica", 30*time.Second, func() bool {
		for _, sv := range s.Sentinels {
			m := s.sentinelMaster(sv)
			if m["num-other-sentinels"] != "2" || m["num-slaves"] != "1" {
				return false
			}
		}
		return strings.Contains(s.info(s.Replica, "replication"), "master_link_status:up")
	})
	return s
}

// URL is what --redis-url would be.
func (s *Sentinel) URL() string {
	u := "redis+sentinel://" + s.Sentinels[0].Addr() + "?master_name=" + MasterName
	for _, sv := range s.Sentinels[1:] {
		u += "&addr=" + sv.Addr()
	}
	return u
}

// MasterAddr is the address the sentinels give for the master now.
func (s *Sentinel) MasterAddr() string {
	for _, sv := range s.Sentinels {
		c := redis.NewSentinelClient(&redis.Options{Addr: sv.Addr()})
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		a, err := c.GetMasterAddrByName(ctx, MasterName).Result()
		cancel()
		_ = c.Close()
		if err == nil && len(a) == 2 {
			return a[0] + ":" + a[1]
		}
	}
	return ""
}

// WaitFailover waits until the sentinels name the replica as the master and it
// says so itself.
func (s *Sentinel) WaitFailover() {
	s.t.Helper()
	s.waitFor("the sentinels to fail over to the replica", 30*time.Second, func() bool {
		return s.MasterAddr() == s.Replica.Addr() && strings.Contains(s.info(s.Replica, "replication"), "role:master")
	})
}

func (s *Sentinel) sentinelMaster(sv *Server) map[string]string {
	c := redis.NewSentinelClient(&redis.Options{Addr: sv.Addr()})
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	m, err := c.Master(ctx, MasterName).Result()
	if err != nil {
		return nil
	}
	return m
}

func (s *Sentinel) info(sv *Server, section string) string {
	c := redis.NewClient(&redis.Options{Addr: sv.Addr(), DisableIdentity: true})
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	v, _ := c.Info(ctx, section).Result()
	return v
}

func (s *Sentinel) waitFor(what string, d time.Duration, cond func() bool) {
	s.t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			s.t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

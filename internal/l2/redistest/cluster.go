package redistest

import (
	"context"
	"net"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// Cluster is a real Redis Cluster of three masters (no replicas) on free loopback
// ports, made as an operator would: redis-server --cluster-enabled yes, joined with
// redis-cli --cluster create. Each master keeps its nodes.conf, so one that is
// stopped and restarted rejoins with its slots (and without its keys).
type Cluster struct {
	t       *testing.T
	Masters []*Server
}

// ClusterNodeTimeout is the masters' cluster-node-timeout: how long a master may
// not answer before the others flag it failed.
const ClusterNodeTimeout = 2 * time.Second

// StartCluster starts the cluster for t, waits until every master says
// cluster_state:ok, and stops it when t ends. extra are more redis-server
// arguments for every master, such as "--cluster-require-full-coverage", "no".
func StartCluster(t *testing.T, extra ...string) *Cluster {
	t.Helper()
	cli := need(t, "redis-cli", "redis-tools")
	c := &Cluster{t: t}
	addrs := make([]string, 3)
	for i := range addrs {
		port, bus := clusterPorts(t)
		args := append([]string{"--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
			"--cluster-port", strconv.Itoa(bus),
			"--cluster-node-timeout", strconv.Itoa(int(ClusterNodeTimeout / time.Millisecond))}, extra...)
		s := start(t, port, args)
		c.Masters = append(c.Masters, s)
		addrs[i] = s.Addr()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	args := append(append([]string{"--cluster", "create"}, addrs...), "--cluster-replicas", "0", "--cluster-yes")
	if out, err := exec.CommandContext(ctx, cli, args...).CombinedOutput(); err != nil {
		t.Fatalf("redis-cli --cluster create: %v\n%s", err, out)
	}
	c.WaitOK()
	return c
}

// clusterPorts returns two free loopback ports: one for clients, one for the cluster bus.
func clusterPorts(t *testing.T) (port, bus int) {
	t.Helper()
	a, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	return a.Addr().(*net.TCPAddr).Port, b.Addr().(*net.TCPAddr).Port
}

// URL is what --redis-url would be: one seed address and the others as addr=.
func (c *Cluster) URL() string {
	u := "redis+cluster://" + c.Masters[0].Addr()
	for i, s := range c.Masters[1:] {
		sep := "&"
		if i == 0 {
			sep = "?"
		}
		u += sep + "addr=" + s.Addr()
	}
	return u
}

// WaitOK waits until every running master says cluster_state:ok and knows all
// three masters with all 16384 slots assigned.
func (c *Cluster) WaitOK() {
	c.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		bad := ""
		for _, s := range c.Masters {
			if !s.Running() {
				continue
			}
			info := c.info(s, "CLUSTER", "INFO")
			for _, want := range []string{"cluster_state:ok", "cluster_slots_ok:16384", "cluster_known_nodes:3"} {
				if !strings.Contains(info, want) {
					bad = s.Addr() + " lacks " + want + ":\n" + info
				}
			}
		}
		if bad == "" {
			return
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("cluster not ok after 30s: %s", bad)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// MasterOf returns the master that holds key.
func (c *Cluster) MasterOf(key string) *Server {
	c.t.Helper()
	for _, s := range c.Masters {
		if !s.Running() {
			continue
		}
		slot, err := c.client(s).ClusterKeySlot(context.Background(), key).Result()
		if err != nil {
			c.t.Fatalf("CLUSTER KEYSLOT on %s: %v", s.Addr(), err)
		}
		slots, err := c.client(s).ClusterSlots(context.Background()).Result()
		if err != nil {
			c.t.Fatalf("CLUSTER SLOTS on %s: %v", s.Addr(), err)
		}
		for _, r := range slots {
			if int64(r.Start) <= slot && slot <= int64(r.End) && len(r.Nodes) > 0 {
				for _, m := range c.Masters {
					if m.Addr() == r.Nodes[0].Addr {
						return m
					}
				}
			}
		}
	}
	c.t.Fatalf("no master holds %q", key)
	return nil
}

// Client returns a plain client to one master, closed when the test ends.
func (c *Cluster) Client(s *Server) *redis.Client { return c.client(s) }

func (c *Cluster) client(s *Server) *redis.Client {
	cl := redis.NewClient(&redis.Options{Addr: s.Addr(), DisableIdentity: true})
	c.t.Cleanup(func() { _ = cl.Close() })
	return cl
}

func (c *Cluster) info(s *Server, args ...any) string {
	cl := redis.NewClient(&redis.Options{Addr: s.Addr(), DisableIdentity: true})
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	v, err := cl.Do(ctx, args...).Text()
	if err != nil {
		return err.Error()
	}
	return v
}

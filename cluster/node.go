// Package cluster lets several gateway instances act as one: the
// per-terminal lock and the record of each purchase at the bank live in a
// replicated NATS JetStream key-value bucket, and each instance holds a
// lease that, when it lapses, lets a survivor take over what it left.
//
// Invariants: a terminal's record is written, acknowledged by a quorum,
// before its request may go to the bank, and it is the lock: created only
// where none is (compare-and-set on the key's last revision), deleted at
// its revision when settled. Every change to a record names the revision
// it replaces, so an instance acting on a stale view (one paused past its
// lease) fails instead of undoing what another did. Storage is synced to
// disk before a write is acknowledged (SyncAlways).
//
// Concurrency: Node and Store are safe for concurrent use.
package cluster

import (
	"errors"
	"fmt"
	"net/url"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/rs/zerolog"
)

// NodeConfig is one embedded NATS node: a JetStream server that forms a
// cluster with its routes.
type NodeConfig struct {
	// Name is unique in the cluster (the gateway instance's name).
	Name string
	// Host the node binds (127.0.0.1 by default).
	Host string
	// Port for clients, ClusterPort for the other nodes; MonitorPort, when
	// set, serves NATS's monitoring endpoints (/varz, /jsz).
	Port, ClusterPort, MonitorPort int
	// Routes are the other nodes' cluster addresses (host:port).
	Routes []string
	// Dir keeps the node's JetStream storage.
	Dir string
	// ClusterName names the cluster (socketqueue by default).
	ClusterName string
	// TLS, when set, is mutual TLS on every port of the node.
	TLS TLSFiles
	// StoreKey, when set, encrypts the node's JetStream storage (AES-GCM,
	// the key derived from it): its files hold no record in the clear.
	StoreKey string
	// Log receives the node's notices, warnings and errors (elections,
	// lost routes, slow peers), each marked component=nats.
	Log zerolog.Logger
}

// Node is a running embedded NATS node.
type Node struct {
	srv *server.Server
}

// StartNode starts a node and waits until it takes clients.
func StartNode(cfg NodeConfig) (*Node, error) {
	if cfg.Name == "" || cfg.Dir == "" {
		return nil, errors.New("cluster: a node needs a name and a directory")
	}
	host := cfg.Host
	if host == "" {
		host = "127.0.0.1"
	}
	name := cfg.ClusterName
	if name == "" {
		name = "socketqueue"
	}
	opts := &server.Options{
		ServerName: cfg.Name,
		Host:       host,
		Port:       cfg.Port,
		HTTPHost:   host,
		HTTPPort:   cfg.MonitorPort,
		JetStream:  true,
		StoreDir:   cfg.Dir,
		// An acknowledged write is on the disk of each node that
		// acknowledged it: the default sync interval (2 min) loses
		// acknowledged writes when a node's machine crashes.
		SyncAlways: true,
		NoSigs:     true,
		// A lost peer is retried every second: its first failure and
		// then one a minute are logged, not every one.
		ReconnectErrorReports: 60,
	}
	if cfg.MonitorPort == 0 {
		opts.HTTPPort = 0
		opts.HTTPHost = ""
	}
	if cfg.ClusterPort != 0 {
		opts.Cluster = server.ClusterOpts{Name: name, Host: host, Port: cfg.ClusterPort}
		for _, r := range cfg.Routes {
			opts.Routes = append(opts.Routes, &url.URL{Scheme: "nats-route", Host: r})
		}
	}
	if err := cfg.TLS.serverOpts(opts); err != nil {
		return nil, err
	}
	if cfg.StoreKey != "" {
		opts.JetStreamKey, opts.JetStreamCipher = cfg.StoreKey, server.AES
	}
	srv, err := server.NewServer(opts)
	if err != nil {
		return nil, fmt.Errorf("cluster: node %s: %w", cfg.Name, err)
	}
	up := new(atomic.Bool)
	srv.SetLoggerV2(natsLog{cfg.Log.With().Str("component", "nats").Logger(), up}, false, false, false)
	srv.Start()
	if !srv.ReadyForConnections(20 * time.Second) {
		srv.Shutdown()
		return nil, fmt.Errorf("cluster: node %s did not start", cfg.Name)
	}
	up.Store(true)
	return &Node{srv: srv}, nil
}

// ClientURL is where clients connect.
func (n *Node) ClientURL() string { return n.srv.ClientURL() }

// Shutdown stops the node.
func (n *Node) Shutdown() {
	n.srv.Shutdown()
	n.srv.WaitForShutdown()
}

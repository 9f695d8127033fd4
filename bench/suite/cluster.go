package main

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/socketqueue/socketqueue-go/bench/loadgen"
)

// clusterRuns are the rows run against one gateway with its local
// journal and against three as one cluster.
var clusterRuns = []spec{
	{"framed, 64 connections", loadgen.Config{Mode: loadgen.Framed, Conns: 64}},
	{"framed, 512 connections", loadgen.Config{Mode: loadgen.Framed, Conns: 512}},
}

// clusterRows measures what the cluster costs: one gateway with the
// local journal synced to disk, beside three gateways with embedded NATS
// nodes as one cluster (records in three copies, synced before each
// acknowledgement), the load spread over the three; each row in turn
// against each. CPU per message adds up the gateways' processes.
func (b *bench) clusterRows() error {
	single, err := b.gateway("header", "disk")
	if err != nil {
		return err
	}
	defer single.p.stop()
	three, err := b.clusterGateways(3)
	if err != nil {
		return err
	}
	defer func() {
		for _, g := range three {
			g.p.stop()
		}
	}()
	sides := []*side{{name: "1 gateway", g: single}, {name: "3 as a cluster", g: three[0], more: three[1:]}}
	return b.sideBySide(fmt.Sprintf("Cluster cost, POS framing header (purchases; 1 gateway, journal on disk, beside 3 as a cluster; %d rounds each, in turn):", tlsRounds),
		sides, clusterRuns, func(r *row, sd *side) {
			r.Journal = "disk"
			if len(sd.more) > 0 {
				r.Journal, r.Instances = "cluster", 1+len(sd.more)
			}
		})
}

// clusterGateways starts n gateways with embedded NATS nodes routed to
// one another, each on the framed emulator, and waits until all are
// ready (the cluster formed).
func (b *bench) clusterGateways(n int) ([]gw, error) {
	routes := make([]int, n)
	for i := range routes {
		routes[i] = freePort()
	}
	var out []gw
	for i := range n {
		var others []string
		for j, p := range routes {
			if j != i {
				others = append(others, "127.0.0.1:"+strconv.Itoa(p))
			}
		}
		dir, err := os.MkdirTemp(b.tmp, "cluster")
		if err != nil {
			return out, err
		}
		pos, admin := freePort(), freePort()
		p, err := start("gateway", "--cluster=embedded", "--clusterInstance=bench"+strconv.Itoa(i+1),
			"--clusterPort="+strconv.Itoa(freePort()), "--clusterRoutePort="+strconv.Itoa(routes[i]),
			"--clusterRoutes="+strings.Join(others, ","), "--dataDir="+dir, "--maxQueue=100000",
			"--upstreamHost=127.0.0.1", "--upstreamPort="+strconv.Itoa(b.bankFramed),
			"--listenPort="+strconv.Itoa(pos), "--listenFraming=header", "--adminPort="+strconv.Itoa(admin))
		if err != nil {
			return out, err
		}
		out = append(out, gw{p: p, pos: pos, admin: admin})
	}
	deadline := time.Now().Add(90 * time.Second)
	for _, g := range out {
		for {
			if up, _ := healthy(g.admin); up {
				break
			}
			if time.Now().After(deadline) {
				return out, fmt.Errorf("bench: the cluster's gateways not ready in 90 s")
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	return out, nil
}

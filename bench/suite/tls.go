package main

import (
	"crypto/tls"
	"fmt"
	"strconv"
	"time"

	"github.com/socketqueue/socketqueue-go/bench/loadgen"
	"github.com/socketqueue/socketqueue-go/internal/testpki"
)

// tlsRuns are the rows run with and without TLS.
var tlsRuns = []spec{
	{"framed, 64 connections", loadgen.Config{Mode: loadgen.Framed, Conns: 64}},
	{"http, 64 clients", loadgen.Config{Mode: loadgen.HTTP, Conns: 64}},
	{"bare, 64 clients", loadgen.Config{Mode: loadgen.Bare, Conns: 64}},
}

// tlsRounds: each row runs this many times against each gateway, in
// turn, so that both see the same moments of a noisy machine.
const tlsRounds = 2

// tlsRows measures what TLS costs: two gateways side by side, one with
// TLS on the POS port and the HTTP API (a certificate made for the run,
// TLS 1.3, clients resuming sessions), one without; the journal off in
// both, so the difference is TLS's. It prints throughput and the
// gateway's CPU per message for each, and their ratios.
func (b *bench) tlsRows() error {
	ca, err := testpki.NewCA(b.tmp, "bench-ca")
	if err != nil {
		return err
	}
	cert, err := ca.Issue("gateway", testpki.Server, time.Now().Add(24*time.Hour))
	if err != nil {
		return err
	}
	type side struct {
		name string
		g    gw
		tls  *tls.Config
	}
	sides := []*side{{name: "plaintext"}, {name: "TLS"}}
	for _, framing := range []string{"header", "bare"} {
		for _, sd := range sides {
			var extra []string
			if sd.name == "TLS" {
				extra = []string{"--listenTlsCert=" + cert.Cert, "--listenTlsKey=" + cert.Key,
					"--listenHttpTlsCert=" + cert.Cert, "--listenHttpTlsKey=" + cert.Key}
				sd.tls = &tls.Config{RootCAs: ca.Pool(), ServerName: "127.0.0.1", ClientSessionCache: tls.NewLRUClientSessionCache(1024)}
			}
			g, err := b.gateway(framing, "off", extra...)
			if err != nil {
				return err
			}
			defer g.p.stop()
			sd.g = g
		}
		fmt.Printf("\nTLS cost, POS framing %s (journal off in both, %d rounds each, in turn):\n", framing, tlsRounds)
		for _, s := range tlsRuns {
			if (s.cfg.Mode == loadgen.Bare) != (framing == "bare") {
				continue
			}
			type sum struct{ reqs, secs, cpu float64 }
			sums := map[string]*sum{}
			for range tlsRounds {
				for _, sd := range sides {
					cfg := s.cfg
					cfg.TLS = sd.tls
					cfg.Addr = "127.0.0.1:" + strconv.Itoa(sd.g.pos)
					if cfg.Mode == loadgen.HTTP {
						cfg.Addr = "127.0.0.1:" + strconv.Itoa(sd.g.http)
					}
					r, err := b.run("gateway", sd.g.p, cfg)
					if err != nil {
						return err
					}
					if sums[sd.name] == nil {
						sums[sd.name] = &sum{}
					}
					acc := sums[sd.name]
					acc.reqs += float64(r.Requests)
					acc.secs += r.Seconds
					acc.cpu += r.GatewayCPU
					r.Journal = "off"
					r.TLS = sd.name == "TLS"
					b.rows = append(b.rows, r)
					report(s.label+", "+sd.name, r)
				}
			}
			p, t := sums["plaintext"], sums["TLS"]
			if p.reqs == 0 || t.reqs == 0 {
				continue
			}
			pTPS, tTPS := p.reqs/p.secs, t.reqs/t.secs
			pCPU, tCPU := 1e6*p.cpu/p.reqs, 1e6*t.cpu/t.reqs
			fmt.Printf("  %-24s plaintext %7.0f/s %5.1f µs CPU/msg   TLS %7.0f/s %5.1f µs CPU/msg   TLS/plaintext: throughput %.2f, CPU per message %.2f\n",
				s.label, pTPS, pCPU, tTPS, tCPU, tTPS/pTPS, tCPU/pCPU)
		}
		for _, sd := range sides {
			sd.g.p.stop()
		}
	}
	return nil
}

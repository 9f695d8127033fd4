package main

import (
	"crypto/tls"
	"fmt"
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
		runs := []spec{}
		for _, s := range tlsRuns {
			if (s.cfg.Mode == loadgen.Bare) == (framing == "bare") {
				runs = append(runs, s)
			}
		}
		if err := b.sideBySide(fmt.Sprintf("TLS cost, POS framing %s (journal off in both, %d rounds each, in turn):", framing, tlsRounds),
			sides, runs, func(r *row, sd *side) { r.TLS = sd.name == "TLS" }); err != nil {
			return err
		}
		for _, sd := range sides {
			sd.g.p.stop()
		}
	}
	return nil
}

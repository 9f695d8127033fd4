package main

import (
	"crypto/tls"
	"fmt"
	"strconv"

	"github.com/socketqueue/socketqueue-go/bench/loadgen"
)

// tlsRounds: each row runs this many times against each gateway of a
// comparison, in turn, so that both see the same moments of a noisy
// machine.
const tlsRounds = 2

// side is one gateway of a comparison, or several as one (more: the
// others, whose CPU is added and over which the binary connections are
// spread).
type side struct {
	name string
	g    gw
	more []gw
	tls  *tls.Config // the clients' TLS, nil for plaintext
}

// sideBySide runs each of runs tlsRounds times against each side in
// turn and prints every row, then for each run the two sides'
// throughput and gateway CPU per message and their ratios (the second
// over the first); mark notes on each row which side it is.
func (b *bench) sideBySide(title string, sides []*side, runs []spec, mark func(r *row, sd *side)) error {
	fmt.Printf("\n%s\n", title)
	for _, s := range runs {
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
				procs := []*proc{sd.g.p}
				if len(sd.more) > 0 {
					cfg.Addrs = []string{cfg.Addr}
					for _, g := range sd.more {
						cfg.Addrs = append(cfg.Addrs, "127.0.0.1:"+strconv.Itoa(g.pos))
						procs = append(procs, g.p)
					}
				}
				r, err := b.runOn(procs, cfg)
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
				mark(&r, sd)
				b.rows = append(b.rows, r)
				report(s.label+", "+sd.name, r)
			}
		}
		a, z := sums[sides[0].name], sums[sides[1].name]
		if a.reqs == 0 || z.reqs == 0 {
			continue
		}
		aTPS, zTPS := a.reqs/a.secs, z.reqs/z.secs
		aCPU, zCPU := 1e6*a.cpu/a.reqs, 1e6*z.cpu/z.reqs
		fmt.Printf("  %-24s %s %7.0f/s %5.1f µs CPU/msg   %s %7.0f/s %5.1f µs CPU/msg   %s/%s: throughput %.2f, CPU per message %.2f\n",
			s.label, sides[0].name, aTPS, aCPU, sides[1].name, zTPS, zCPU, sides[1].name, sides[0].name, zTPS/aTPS, zCPU/aCPU)
	}
	return nil
}

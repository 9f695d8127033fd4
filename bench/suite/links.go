package main

import (
	"strconv"

	"github.com/socketqueue/socketqueue-go/bench/loadgen"
)

// linkRuns are the rows run against one bank link and two.
var linkRuns = []spec{
	{"framed, 64 connections", loadgen.Config{Mode: loadgen.Framed, Conns: 64}},
	{"http, 64 clients", loadgen.Config{Mode: loadgen.HTTP, Conns: 64}},
}

// linkRows measures what a second bank link costs or gives: two
// gateways side by side on the framed emulator, one with one link, one
// with two (the emulator's two ports, one bank), round robin; the journal
// off in both.
func (b *bench) linkRows() error {
	two := "--upstream=127.0.0.1:" + strconv.Itoa(b.bankFramed) + ",127.0.0.1:" + strconv.Itoa(b.bankFramed2)
	sides := []*side{{name: "1 link"}, {name: "2 links"}}
	for i, sd := range sides {
		var extra []string
		if i == 1 {
			extra = []string{two}
		}
		g, err := b.gateway("header", "off", extra...)
		if err != nil {
			return err
		}
		defer g.p.stop()
		sd.g = g
	}
	return b.sideBySide("Bank links, POS framing header (journal off in both, round robin, 2 rounds each, in turn):",
		sides, linkRuns, func(r *row, sd *side) {
			r.Links = 1
			if sd == sides[1] {
				r.Links = 2
			}
		})
}

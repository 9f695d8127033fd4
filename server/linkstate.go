package server

import (
	"strconv"
	"time"

	json "github.com/goccy/go-json"

	"github.com/socketqueue/socketqueue-go/metrics"
)

// LinkState is what an operator sees of one bank link (/stats,
// /healthz?verbose).
type LinkState struct {
	Link     string `json:"link"`
	Up       bool   `json:"up"`
	Ready    bool   `json:"ready"`
	SignedOn bool   `json:"signedOn"`
	// InFlight are requests written on it awaiting their reply.
	InFlight   int   `json:"inFlight"`
	Requests   int64 `json:"requests"`
	Drops      int64 `json:"drops"`
	EchoMisses int32 `json:"echoMisses"`
	// RoundTripMs is a moving average of its round trips.
	RoundTripMs float64 `json:"roundTripMs"`
}

// Links is the state of every bank link, in the order configured.
func (g *Gateway) Links() []LinkState {
	inflight := make([]int, len(g.links.all))
	g.table.SentByLink(inflight)
	out := make([]LinkState, len(g.links.all))
	for i, l := range g.links.all {
		out[i] = LinkState{Link: l.name, Up: l.Up(), Ready: l.Ready(), SignedOn: l.signOn.Load() == signedOn,
			InFlight: inflight[i], Requests: l.sent.Load(), Drops: l.downs.Load(), EchoMisses: l.misses.Load(),
			RoundTripMs: float64(l.rtt.Load()) / float64(time.Millisecond)}
	}
	return out
}

// appendLinks adds the links to /stats's object (b ends with its '}').
func (g *Gateway) appendLinks(b []byte) []byte {
	links, err := json.Marshal(g.Links())
	if err != nil || len(b) == 0 || b[len(b)-1] != '}' {
		return b
	}
	b = b[:len(b)-1]
	if len(b) > 1 {
		b = append(b, ',')
	}
	b = append(b, `"links":`...)
	b = append(b, links...)
	return append(b, '}')
}

// appendLinkLines is /healthz?verbose's detail: a line per link.
func (g *Gateway) appendLinkLines(b []byte) []byte {
	for _, s := range g.Links() {
		b = append(b, "link "...)
		b = append(b, s.Link...)
		b = append(b, " up="...)
		b = strconv.AppendBool(b, s.Up)
		b = append(b, " ready="...)
		b = strconv.AppendBool(b, s.Ready)
		b = append(b, " signedOn="...)
		b = strconv.AppendBool(b, s.SignedOn)
		b = append(b, " inFlight="...)
		b = strconv.AppendInt(b, int64(s.InFlight), 10)
		b = append(b, " requests="...)
		b = strconv.AppendInt(b, s.Requests, 10)
		b = append(b, " drops="...)
		b = strconv.AppendInt(b, s.Drops, 10)
		b = append(b, " echoMisses="...)
		b = strconv.AppendInt(b, int64(s.EchoMisses), 10)
		b = append(b, " roundTripMs="...)
		b = strconv.AppendFloat(b, s.RoundTripMs, 'f', 3, 64)
		b = append(b, '\n')
	}
	return b
}

// roundTrip records a reply's round trip on link id: its moving average
// (1/8 weight) and its histogram in m, the loop's tally. On the link's
// loop.
func (ls *links) roundTrip(id int32, d time.Duration, m *metrics.Tally) {
	l := ls.all[id]
	old := l.rtt.Load()
	if old == 0 {
		l.rtt.Store(int64(d))
	} else {
		l.rtt.Store(old + (int64(d)-old)/8)
	}
	m.LinkRoundTrip(l.metric, d)
}

package server

import (
	"time"

	"github.com/socketqueue/socketqueue-go/dispatch"
	"github.com/socketqueue/socketqueue-go/isocodec"
	"github.com/socketqueue/socketqueue-go/metrics"
)

// countDelivered adds a reply handed to its client.
func (g *Gateway) countDelivered(r *dispatch.Request, reply isocodec.MTI) {
	m := g.cfg.Metrics
	if m == nil {
		return
	}
	m.Message(reply, metrics.ToClient)
	now := g.loopNow // deliveries run on the link's loop
	var wait, trip time.Duration
	if r.Arrived != 0 {
		wait = time.Duration(now - r.Arrived)
	}
	if r.Sent != 0 {
		trip = time.Duration(now - r.Sent)
	}
	m.Reply(wait, trip)
}

// countRequest adds a client's request to the figures.
func (g *Gateway) countRequest(s *isocodec.Scan, msg []byte) {
	g.cfg.Metrics.Message(s.MTI, metrics.FromClient)
	st := g.cfg.Stats
	if st == nil {
		return
	}
	st.Packet(s.MTI)
	if s.MTI == (isocodec.MTI{'0', '2', '0', '0'}) {
		st.Purchase(g.amountOf(s, msg))
	}
}

// countFromBank adds a message from the bank to the figures.
func (g *Gateway) countFromBank(s *isocodec.Scan, msg []byte) {
	m, st := g.cfg.Metrics, g.cfg.Stats
	if m == nil && st == nil {
		return
	}
	m.Message(s.MTI, metrics.FromBank)
	if !s.MTI.IsResponse() {
		st.Packet(s.MTI)
		return
	}
	d := g.cfg.Dialect
	var code, pc [8]byte
	c := d.Layout.AppendText(code[:0], s, msg, 39)
	if len(c) > 0 {
		m.Code(s.MTI, c)
	}
	if st == nil {
		return
	}
	st.Packet(s.MTI)
	refund := false
	if s.Units(3) == 6 {
		refund = string(d.Layout.AppendText(pc[:0], s, msg, 3)[:2]) == "20"
	}
	approved := d.IsApproved(c) || s.MTI.Class() == '4' && len(c) == 3 && string(c) == "400"
	st.Reply(s.MTI, c, approved, refund, g.amountOf(s, msg))
}

// countOwn adds a message the gateway sends of its own accord.
func (g *Gateway) countOwn(m isocodec.MTI) {
	g.cfg.Metrics.Message(m, metrics.ToBank)
	if g.cfg.Stats != nil {
		g.cfg.Stats.Packet(m)
	}
}

// amountOf reads field 4 in minor units (0 when absent or not digits).
func (g *Gateway) amountOf(s *isocodec.Scan, msg []byte) int64 {
	v, _ := g.cfg.Dialect.Layout.Number(s, msg, 4)
	return v
}

// Why a client's request never reached the bank, as
// socketqueue_refused_total counts it.
const (
	refusedMalformed = "malformed"    // not an ISO-8583 message of the dialect
	refusedAuth      = "unauthorized" // an API request without a valid credential
	// A connection over --maxConnections, or over --maxConnectionsPerAddr
	// from one address, closed at once.
	refusedConnections     = "connections"
	refusedAddrConnections = "connections_per_address"
	// A POS connection that sent nothing within --firstByteTimeout.
	refusedSilent   = "no_first_byte"
	refusedInvalid  = "invalid"    // parsed, failed validation (or a response MTI)
	refusedLinkDown = "link_down"  // no bank link
	refusedStopping = "stopping"   // the gateway is shutting down
	refusedFull     = "queue_full" // maxQueue reached
	refusedJournal  = "journal"    // the journal could not record the purchase
)

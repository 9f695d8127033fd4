package server

import (
	"time"

	"github.com/socketqueue/socketqueue-go/dispatch"
	"github.com/socketqueue/socketqueue-go/isocodec"
	"github.com/socketqueue/socketqueue-go/metrics"
	"github.com/socketqueue/socketqueue-go/reversal"
)

// countDelivered adds a reply handed to its client, to the counts of
// the goroutine that delivers it.
func (rl *relay) countDelivered(c *counts, r *dispatch.Request, reply isocodec.MTI, now int64) {
	m := c.m
	if m == nil {
		return
	}
	m.Message(reply, metrics.ToClient)
	var wait, trip time.Duration
	if r.Arrived != 0 {
		wait = time.Duration(now - r.Arrived)
	}
	if r.Sent != 0 {
		trip = time.Duration(now - r.Sent)
	}
	m.Reply(wait, trip)
}

// countRequest adds a client's request to the figures (c: the counts
// of the goroutine that took it).
func (rl *relay) countRequest(c *counts, s *isocodec.Scan, msg []byte) {
	c.m.Message(s.MTI, metrics.FromClient)
	st := c.st
	if st == nil {
		return
	}
	st.Packet(s.MTI)
	if s.MTI == isocodec.MTIPurchase {
		st.Purchase(rl.amountOf(s, msg))
	}
}

// countFromBank adds a message from the bank to the figures (c: the
// counts of the link's loop).
func (rl *relay) countFromBank(c *counts, s *isocodec.Scan, msg []byte) {
	m, st := c.m, c.st
	if m == nil && st == nil {
		return
	}
	m.Message(s.MTI, metrics.FromBank)
	if !s.MTI.IsResponse() {
		st.Packet(s.MTI)
		return
	}
	d := rl.cfg.Dialect
	var code, pc [8]byte
	rc := d.Layout.AppendText(code[:0], s, msg, 39)
	if len(rc) > 0 {
		m.Code(s.MTI, rc)
	}
	if st == nil {
		return
	}
	st.Packet(s.MTI)
	refund := false
	if s.Units(3) == 6 {
		refund = string(d.Layout.AppendText(pc[:0], s, msg, 3)[:2]) == "20"
	}
	approved := d.IsApproved(rc) || s.MTI.Class() == '4' && reversal.Approved(d, rc)
	st.Reply(s.MTI, rc, approved, refund, rl.amountOf(s, msg))
}

// countOwn adds a message the gateway sends of its own accord.
func (rl *relay) countOwn(m isocodec.MTI) {
	rl.cfg.Metrics.Message(m, metrics.ToBank)
	if rl.cfg.Stats != nil {
		rl.cfg.Stats.Packet(m)
	}
}

// amountOf reads field 4 in minor units (0 when absent or not digits).
func (rl *relay) amountOf(s *isocodec.Scan, msg []byte) int64 {
	v, _ := rl.cfg.Dialect.Layout.Number(s, msg, 4)
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
	refusedSilent = "no_first_byte"
	// A TLS handshake that failed (no or a bad client certificate,
	// plaintext, an old protocol) or did not end within
	// --tlsHandshakeTimeout.
	refusedHandshake = "tls_handshake"
	// refusedTLSOnPlain: a TLS ClientHello on the plaintext POS port.
	refusedTLSOnPlain = "tls_on_plaintext"
	refusedInvalid    = "invalid"    // parsed, failed validation (or a response MTI)
	refusedLinkDown   = "link_down"  // no bank link
	refusedStopping   = "stopping"   // the gateway is shutting down
	refusedFull       = "queue_full" // maxQueue reached
	refusedJournal    = "journal"    // the journal could not record the purchase
)

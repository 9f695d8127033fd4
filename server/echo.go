package server

import (
	"github.com/socketqueue/socketqueue-go/dispatch"
	"github.com/socketqueue/socketqueue-go/isocodec"
)

// echoClient is the client of the gateway's own echo on a link.
type echoClient struct {
	g *Gateway
	l *link
}

var _ dispatch.Client = echoClient{}

// Deliver puts a link out of rotation back.
func (c echoClient) Deliver(r *dispatch.Request, _ []byte, _ *isocodec.Scan) {
	c.l.echoOut.Store(false)
	back := c.l.misses.Swap(0) >= int32(c.g.cfg.EchoMisses) && c.g.cfg.EchoMisses > 0
	c.g.log.Info().Str("link", c.l.name).Str("mti", r.MTI.String()).Msg("bank answered the gateway's echo")
	if back {
		c.g.log.Warn().Str("link", c.l.name).Msg("bank link answers its echoes again: back in rotation")
		c.g.links.notify()
	}
}

// Fail counts a miss; EchoMisses in a row take the link out of rotation.
// An echo that never went (the link dropped first) is no miss.
func (c echoClient) Fail(r *dispatch.Request, err error) {
	c.l.echoOut.Store(false)
	if r.Sent == 0 {
		return
	}
	n := c.l.misses.Add(1)
	c.g.log.Warn().Err(err).Str("link", c.l.name).Int32("misses", n).Str("mti", r.MTI.String()).Msg("the gateway's echo failed")
	if m := c.g.cfg.EchoMisses; m > 0 && n == int32(m) {
		c.g.log.Error().Str("link", c.l.name).Int("misses", m).Msg("bank link leaves its echoes unanswered: out of rotation until one is answered")
		c.g.links.notify()
	}
}

// Gone is never true: the gateway does not leave.
func (echoClient) Gone() bool { return false }

// sendEcho sends the gateway's own 0800 on l, quiet, unless one is
// still out.
func (g *Gateway) sendEcho(l *link) {
	if !l.echoOut.CompareAndSwap(false, true) {
		return
	}
	g.log.Info().Str("link", l.name).Msg("bank link quiet, sending an echo")
	if !g.sendNetwork(l, "", echoClient{g, l}) {
		l.echoOut.Store(false)
	}
}

// sendNetwork sends the gateway's own 0800 on l, with field 70 = code
// when the dialect has it and code is not "" (001 sign-on, 002
// sign-off); false when it did not go.
func (g *Gateway) sendNetwork(l *link, code string, client dispatch.Client) bool {
	d := g.cfg.Dialect
	var clock [10]byte
	var stan [6]byte
	appendDigits(stan[:0], g.stan.Add(1)%1_000_000, 6)
	edits := []isocodec.Edit{
		isocodec.Set(3, []byte("990000")),
		isocodec.Set(7, isocodec.AppendTransmissionTime(clock[:0], g.now().UTC())),
		isocodec.Set(11, stan[:]),
		isocodec.Set(41, []byte(g.cfg.EchoTID)),
	}
	if f, ok := d.Field(24); ok && f.Length == 3 {
		edits = append(edits, isocodec.Set(24, []byte("831")))
	}
	if d.Mandatory(isocodec.MTINetwork).Has(63) {
		edits = append(edits, isocodec.Set(63, []byte("ECHO")))
	}
	if _, ok := d.Field(70); ok && code != "" {
		edits = append(edits, isocodec.Set(70, []byte(code)))
	}
	msg, err := d.Layout.AppendEdited(nil, isocodec.MTINetwork, nil, nil, edits...)
	var s isocodec.Scan
	if err == nil {
		err = d.Layout.Scan(msg, &s)
	}
	if err != nil {
		g.log.Error().Err(err).Str("code", code).Msg("cannot build a network message")
		return false
	}
	if err := g.admit(admission{msg: msg, scan: &s, client: client, own: true, now: g.now(), wait: g.cfg.ShortTimeout,
		link: l.id, pinned: true}); err != nil {
		return false
	}
	g.countOwn(isocodec.MTINetwork)
	return true
}

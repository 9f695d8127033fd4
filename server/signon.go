package server

import (
	"context"
	"time"

	"github.com/socketqueue/socketqueue-go/dispatch"
	"github.com/socketqueue/socketqueue-go/isocodec"
)

// Sign-on states of a link (with --upstreamSignOn).
const (
	signedOff int32 = iota // not signed on; a sign-on is due
	signingOn              // a sign-on is out
	signedOn               // approved: the link may take traffic
	declined               // refused by the bank: not used until it reconnects
)

// signOnClient hears the bank's answer to a link's sign-on.
type signOnClient struct {
	g *Gateway
	l *link
}

var _ dispatch.Client = signOnClient{}

// Deliver puts the link in rotation when the bank approved the sign-on.
func (c signOnClient) Deliver(_ *dispatch.Request, reply []byte, s *isocodec.Scan) {
	d := c.g.cfg.Dialect
	var buf [8]byte
	code := d.Layout.AppendText(buf[:0], s, reply, 39)
	if !d.IsApproved(code) {
		c.l.signOn.Store(declined)
		c.g.log.Error().Str("link", c.l.name).Bytes("code", code).Msg("bank declined the link's sign-on: the link is not used until it reconnects")
		c.g.links.notify()
		return
	}
	c.l.signOn.Store(signedOn)
	c.g.log.Info().Str("link", c.l.name).Msg("bank link signed on")
	c.g.links.notify()
}

// Fail leaves the sign-on due again (it timed out, or the link dropped).
func (c signOnClient) Fail(_ *dispatch.Request, err error) {
	c.l.signOn.CompareAndSwap(signingOn, signedOff)
	c.g.log.Warn().Err(err).Str("link", c.l.name).Msg("the link's sign-on failed; trying again")
}

// Gone is never true: the gateway does not leave.
func (signOnClient) Gone() bool { return false }

// signOnIfDue sends l's sign-on when one is due.
func (g *Gateway) signOnIfDue(l *link) {
	if !g.cfg.SignOn || !l.Up() || !l.signOn.CompareAndSwap(signedOff, signingOn) {
		return
	}
	g.log.Info().Str("link", l.name).Msg("signing the bank link on")
	if !g.sendNetwork(l, g.cfg.SignOnCode, signOnClient{g, l}) {
		l.signOn.Store(signedOff)
	}
}

// signOffClient hears the answer to a sign-off.
type signOffClient struct {
	l    *link
	done chan struct{}
}

func (c signOffClient) Deliver(*dispatch.Request, []byte, *isocodec.Scan) { close(c.done) }
func (c signOffClient) Fail(*dispatch.Request, error)                     { close(c.done) }
func (signOffClient) Gone() bool                                          { return false }

// signOff signs every signed-on link off and waits for the bank's
// answers, each bounded by the short timeout (it stops anyway).
func (g *Gateway) signOff(ctx context.Context) {
	if !g.cfg.SignOn {
		return
	}
	var waits []chan struct{}
	for _, l := range g.links.all {
		if !l.Up() || l.signOn.Load() != signedOn {
			continue
		}
		c := signOffClient{l: l, done: make(chan struct{})}
		g.log.Info().Str("link", l.name).Msg("signing the bank link off")
		if g.sendNetwork(l, g.cfg.SignOffCode, c) {
			waits = append(waits, c.done)
		}
	}
	ctx, cancel := context.WithTimeout(ctx, g.cfg.ShortTimeout+time.Second)
	defer cancel()
	for _, w := range waits {
		select {
		case <-w:
		case <-ctx.Done():
			return
		}
	}
}

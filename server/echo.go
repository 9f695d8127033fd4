package server

import (
	"github.com/socketqueue/socketqueue-go/dispatch"
	"github.com/socketqueue/socketqueue-go/isocodec"
)

// echoClient is the client of the gateway's own echo.
type echoClient struct{ g *Gateway }

var _ dispatch.Client = echoClient{}

func (c echoClient) Deliver(r *dispatch.Request, _ []byte, _ *isocodec.Scan) {
	c.g.echoOut.Store(false)
	c.g.log.Info().Str("mti", r.MTI.String()).Msg("bank answered the gateway's echo")
}

func (c echoClient) Fail(r *dispatch.Request, err error) {
	c.g.echoOut.Store(false)
	c.g.log.Warn().Err(err).Str("mti", r.MTI.String()).Msg("the gateway's echo failed")
}

// Gone is never true: the gateway does not leave.
func (echoClient) Gone() bool { return false }

// sendEcho sends the gateway's own 0800 on a quiet link, unless one is
// still out.
func (g *Gateway) sendEcho() {
	if !g.echoOut.CompareAndSwap(false, true) {
		return
	}
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
	msg, err := d.Layout.AppendEdited(nil, isocodec.MTINetwork, nil, nil, edits...)
	var s isocodec.Scan
	if err == nil {
		err = d.Layout.Scan(msg, &s)
	}
	if err != nil {
		g.log.Error().Err(err).Msg("cannot build an echo")
		g.echoOut.Store(false)
		return
	}
	g.log.Info().Msg("bank link quiet, sending an echo")
	if err := g.admit(admission{msg: msg, scan: &s, client: echoClient{g}, own: true, now: g.now(), wait: g.cfg.ShortTimeout}); err != nil {
		g.echoOut.Store(false)
		return
	}
	g.countOwn(isocodec.MTINetwork)
}

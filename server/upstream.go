package server

import (
	"github.com/panjf2000/gnet/v2"

	"github.com/socketqueue/socketqueue-go/isocodec"
)

// upstreamConn is a link connection's scratch, owned by its loop.
type upstreamConn struct {
	link        *link
	in          isocodec.Inbound
	frame, scan isocodec.Scan
	answer      []byte
	counts      *counts // of the link's loop, found at its first reply
}

// upstreamTraffic writes what is pending, then matches every complete
// reply in the buffer to its request and delivers it.
func (g *Gateway) upstreamTraffic(c gnet.Conn, u *upstreamConn) gnet.Action {
	l := u.link
	now := g.now().UnixNano()
	l.st.now = now
	// What POS callbacks left to this round (endPOSCallback), committed,
	// and commits handed over from off the loops (handoff): their sends
	// wait on this loop's links. The wake-up is cleared first: a handoff
	// that found it still on its way counts on this callback to run it.
	l.unwake()
	if committed, handed := g.relay.endCallback(c.EventLoop()), g.relay.runHanded(c.EventLoop()); committed || handed {
		g.links.flush(c.EventLoop(), now)
	} else {
		l.flush(now)
	}
	buf := u.in.Take(c)
	if len(buf) == 0 {
		return gnet.None
	}
	l.lastIO.Store(now)
	l.lastRead.Store(now)
	action := gnet.None
	off, err := g.cfg.HostFraming.Each(buf, &u.frame, func(msg []byte) bool {
		g.fromBank(c, u, msg)
		return true
	})
	if err != nil {
		// What was read around the break, masked, to tell a bank that
		// sent garbage from a stream out of step.
		lo, hi := max(0, off-160), min(len(buf), off+40)
		g.log.Error().Err(err).Int("at", off).Int("buffered", len(buf)).
			Str("before", g.cfg.Dialect.LogHex(buf[lo:off], true, g.cfg.Dangerous)).Str("after", g.cfg.Dialect.LogHex(buf[off:hi], true, g.cfg.Dangerous)).
			Str("link", l.name).Msg("bank link: bad frame, reconnecting")
		action = gnet.Close
	}
	u.in.Keep(off)
	g.relay.endCallback(c.EventLoop())
	g.links.flush(c.EventLoop(), now) // replies free turns that may go on any link here
	g.flushDirty(l)
	return action
}

// fromBank handles one message from the bank, on the link's loop.
func (g *Gateway) fromBank(c gnet.Conn, u *upstreamConn, msg []byte) {
	d := g.cfg.Dialect
	if err := d.Layout.Scan(msg, &u.scan); err != nil {
		// The frame said where it ends, so the link stays in step.
		g.log.Error().Err(err).Str("hex", d.LogHex(msg, false, g.cfg.Dangerous)).Msg("bank sent a message that does not parse; dropped")
		return
	}
	if e := g.log.Debug(); e.Enabled() {
		g.dump(e, "from bank", msg)
	}
	if u.counts == nil {
		u.counts = g.tallies.of(c.EventLoop())
	}
	g.countFromBank(u.counts, &u.scan, msg)
	if !u.scan.MTI.IsResponse() {
		g.answerBank(u, msg)
		return
	}
	l := u.link
	g.reply(&u.scan, msg, l.id, c.EventLoop(), u.counts, l.st.now)
}

// flushDirty writes the replies l collected for POS clients on its loop,
// one write per client, and closes bare ones.
func (g *Gateway) flushDirty(l *link) {
	for i, p := range l.st.dirty {
		p.flush()
		l.st.dirty[i] = nil
	}
	l.st.dirty = l.st.dirty[:0]
}

// answerBank answers the bank's own requests: an 0800 gets an 0810 with
// 7 = now, 37 = a new RRN, 39 = approved, 24 and 42 removed, as the
// original gateway answered.
// Anything else is logged and left unanswered.
func (g *Gateway) answerBank(u *upstreamConn, msg []byte) {
	if u.scan.MTI.Class() != '8' {
		g.log.Warn().Str("mti", u.scan.MTI.String()).Msg("bank sent a request the gateway does not serve; ignored")
		return
	}
	var clock [10]byte
	var rrn [12]byte
	appendDigits(rrn[:0], g.rrn.Add(1)%1_000_000_000_000, 12)
	out, err := g.cfg.Dialect.Layout.AppendEdited(u.answer[:0], u.scan.MTI.Response(), msg, &u.scan,
		isocodec.Set(7, isocodec.AppendTransmissionTime(clock[:0], g.now().UTC())), isocodec.Set(37, rrn[:]),
		isocodec.Set(39, []byte(g.cfg.Dialect.Rules.ApprovedCode)), isocodec.Remove(24), isocodec.Remove(42))
	u.answer = out
	if err != nil {
		g.log.Error().Err(err).Msg("cannot answer the bank's echo")
		return
	}
	if err := u.link.send(out, sendOnLoop); err != nil {
		g.log.Warn().Err(err).Msg("cannot answer the bank's echo")
		return
	}
	g.countOwn(u.scan.MTI.Response())
}

func appendDigits(dst []byte, v uint64, n int) []byte {
	start := len(dst)
	for range n {
		dst = append(dst, '0')
	}
	for i := len(dst) - 1; i >= start; i-- {
		dst[i] = '0' + byte(v%10)
		v /= 10
	}
	return dst
}

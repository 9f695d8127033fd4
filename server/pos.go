package server

import (
	"sync/atomic"
	"time"

	"github.com/panjf2000/gnet/v2"

	"github.com/socketqueue/socketqueue-go/dispatch"
	"github.com/socketqueue/socketqueue-go/internal/tlsloop"
	"github.com/socketqueue/socketqueue-go/isocodec"
)

// posConn is one binary POS client. Its buffers belong to its event loop;
// closed, inflight and last are read by other goroutines.
type posConn struct {
	g    *Gateway
	c    gnet.Conn
	tls  *tlsloop.Conn // nil: plaintext
	loop gnet.EventLoop
	// counts are where loop counts, found once.
	counts *counts
	peer   string
	bare   bool
	// done: a bare client has sent its one message.
	done bool

	in    isocodec.Inbound
	scan  isocodec.Scan // bare framing leaves each message's scan here
	errs  isocodec.FieldErrors
	days  isocodec.LocalDays // the day of its terminal's local times
	out   []byte             // framed replies not yet written (link loop only)
	dirty bool

	closed   atomic.Bool
	inflight atomic.Int32
	last     atomic.Int64 // Unix nanoseconds of the last request or reply
	heard    atomic.Bool  // a byte has come in
	opened   time.Time
}

var _ dispatch.Client = (*posConn)(nil)

func newPOSConn(g *Gateway, c gnet.Conn, peer string) *posConn {
	p := &posConn{g: g, c: c, loop: c.EventLoop(), peer: peer, bare: g.cfg.POSFraming.Bare()}
	p.counts = g.tallies.of(p.loop)
	p.opened = g.now()
	p.last.Store(p.opened.UnixNano())
	return p
}

// Gone reports that the client has disconnected.
func (p *posConn) Gone() bool { return p.closed.Load() }

// traffic reads every complete request, validates it and queues it; a
// request that fails closes a bare client's connection and gets an
// error reply on a framed one.
func (p *posConn) traffic() gnet.Action {
	g := p.g
	var buf []byte
	if p.tls == nil {
		buf = p.in.Take(p.c)
	} else {
		if p.tls.Flush() {
			p.tls.CloseNotify()
			return gnet.Close
		}
		buf = p.in.TakeFrom(p.tls)
	}
	if len(buf) > 0 && !p.heard.Swap(true) && p.tls == nil && isTLSHello(buf) {
		g.log.Warn().Str("peer", p.peer).Msg("POS client speaks TLS to the plaintext POS port; closing")
		g.cfg.Metrics.Refused(refusedTLSOnPlain)
		return gnet.Close
	}
	now := g.now()
	action := gnet.None
	off := len(buf) // a bare client gets one request; the rest is dropped
	if !p.done {
		var err error
		off, err = g.cfg.POSFraming.Each(buf, &p.scan, func(msg []byte) bool {
			if !p.request(msg, now) {
				action = gnet.Close
				return false
			}
			return !p.done
		})
		if err != nil {
			g.log.Warn().Err(err).Str("peer", p.peer).Str("hex", g.cfg.Dialect.LogHex(head(buf[off:]), !g.cfg.POSFraming.Bare(), g.cfg.Dangerous)).
				Msg("POS client sent something that is not ISO-8583; closing")
			g.cfg.Metrics.Refused(refusedMalformed)
			action = gnet.Close
		}
	}
	p.in.Keep(off)
	g.relay.endPOSCallback(p.loop, off < soonBelow)
	g.links.flushOrSoon(p.loop, now.UnixNano())
	if action == gnet.None && p.tls != nil && p.tls.Ended() != nil {
		return p.peerEnded(p.tls.Ended())
	}
	return action
}

// peerEnded closes a TLS client that ended its side, as gnet closes a
// plaintext one at EOF; a TLS error is logged.
func (p *posConn) peerEnded(err error) gnet.Action {
	if !tlsloop.Clean(err) {
		p.g.log.Warn().Err(err).Str("peer", p.peer).Msg("POS client's TLS failed; closing")
	}
	return gnet.Close
}

// write writes b to the client on its loop.
func (p *posConn) write(b []byte) error {
	var err error
	if p.tls != nil {
		_, err = p.tls.Write(b)
	} else {
		_, err = p.c.Write(b)
	}
	return err
}

// send writes b to the client from any goroutine (gnet's cross-loop
// write; for TLS, queued for the loop to encrypt), then closes a bare
// client. b is not kept.
func (p *posConn) send(b []byte) {
	if p.tls == nil {
		_ = p.c.AsyncWrite(b, p.afterAsyncWrite)
		return
	}
	if p.tls.Send(b) && p.bare {
		p.tls.SendClose()
	}
}

// close closes the connection from any goroutine; a TLS client is sent
// close_notify first, by its loop.
func (p *posConn) close() {
	if p.tls != nil {
		p.tls.SendClose()
		return
	}
	_ = p.c.Close()
}

// isTLSHello reports whether b opens with a TLS handshake record carrying
// a ClientHello: type 22, version 3.x, a length, then handshake type 1.
// No ISO-8583 frame opens so: as a binary length 0x16 0x03 would announce
// 5 635 bytes of a message whose MTI is 0x0x 0x.. and whose bitmap starts
// 0x01, none of which a POS sends.
func isTLSHello(b []byte) bool {
	return len(b) >= 6 && b[0] == 0x16 && b[1] == 0x03 && b[2] <= 0x04 && b[5] == 0x01
}

// head is the start of what a client sent, enough to recognise it in a
// log without copying a whole flood.
func head(b []byte) []byte {
	if len(b) > 64 {
		return b[:64]
	}
	return b
}

// request handles one message; false closes the connection. now is the
// time of the read batch.
func (p *posConn) request(msg []byte, now time.Time) bool {
	g := p.g
	d := g.cfg.Dialect
	p.last.Store(now.UnixNano())
	if !p.bare { // a bare message was found by scanning: p.scan describes it
		if err := d.Layout.Scan(msg, &p.scan); err != nil {
			g.log.Warn().Err(err).Str("peer", p.peer).Msg("POS request does not parse; closing")
			g.cfg.Metrics.Refused(refusedMalformed)
			return false
		}
	}
	if e := g.log.Debug(); e.Enabled() {
		g.dump(e, "from POS "+p.peer, msg)
	}
	p.errs = d.Check(msg, &p.scan, isocodec.CheckOptions{Now: now, Window: g.cfg.ExpiryWindow, Location: g.cfg.Location, Days: &p.days}, p.errs[:0])
	if len(p.errs) > 0 || p.scan.MTI.IsResponse() {
		ev := g.log.Warn().Str("peer", p.peer).Str("mti", p.scan.MTI.String())
		if len(p.errs) > 0 {
			ev = ev.Strs("errors", p.errs.Strings())
		}
		ev.Msg("POS request refused, not sent to the bank")
		g.cfg.Metrics.Refused(refusedInvalid)
		if p.bare {
			return false
		}
		return p.answerSelf(msg, &p.scan, g.codes.invalid)
	}
	p.inflight.Add(1) // before admit: a failed send calls Fail
	err := g.admit(admission{msg: msg, scan: &p.scan, client: p, now: now, wait: g.cfg.QueueTimeout, el: p.loop, counts: p.counts})
	if err == nil {
		if p.bare {
			p.done = true
		}
		return true
	}
	p.inflight.Add(-1)
	why, code := refusedLinkDown, g.codes.down
	switch err {
	case ErrStopping:
		why = refusedStopping
	case ErrFull:
		why, code = refusedFull, g.codes.full
	}
	g.log.Warn().Err(err).Str("peer", p.peer).Int("held", g.table.Held()).Msg("POS request refused")
	g.cfg.Metrics.Refused(why)
	if p.bare {
		return false
	}
	return p.answerSelf(msg, &p.scan, code)
}

// answerSelf answers a framed client in the bank's place: the request's
// response MTI with code. It runs on p's loop.
func (p *posConn) answerSelf(msg []byte, s *isocodec.Scan, code string) bool {
	reply, err := p.g.cfg.Dialect.Layout.AppendEdited(nil, s.MTI.Response(), msg, s, isocodec.Set(39, []byte(code)))
	if err != nil {
		return false
	}
	framed, err := p.g.cfg.POSFraming.Append(nil, reply)
	if err != nil {
		return false
	}
	return p.write(framed) == nil
}

// Deliver queues a reply for p; it runs on the loop of r.Link, the link
// the reply came on. On p's own loop it waits for that link's
// flushDirty; otherwise it goes through gnet's cross-loop write.
func (p *posConn) Deliver(r *dispatch.Request, msg []byte, _ *isocodec.Scan) {
	p.inflight.Add(-1)
	g := p.g
	if p.Gone() {
		g.log.Warn().Str("peer", p.peer).Msg("reply for a POS client that has left; dropped")
		return
	}
	l := g.links.all[r.Link]
	p.last.Store(l.st.now) // Deliver runs on l's loop
	if e := g.log.Debug(); e.Enabled() {
		g.dump(e, "to POS "+p.peer, msg)
	}
	if l.onLoop(p.loop) {
		var err error
		if p.out, err = g.cfg.POSFraming.Append(p.out, msg); err != nil {
			g.log.Error().Err(err).Msg("reply does not fit the POS framing")
			return
		}
		if !p.dirty {
			p.dirty = true
			l.st.dirty = append(l.st.dirty, p)
		}
		return
	}
	framed, err := g.cfg.POSFraming.Append(nil, msg)
	if err != nil {
		g.log.Error().Err(err).Msg("reply does not fit the POS framing")
		return
	}
	p.send(framed)
}

func (p *posConn) afterAsyncWrite(c gnet.Conn, _ error) error {
	if p.bare {
		return c.Close()
	}
	return nil
}

// flush writes the collected replies; bare clients are then closed.
func (p *posConn) flush() {
	p.dirty = false
	if len(p.out) > 0 && !p.Gone() {
		_ = p.write(p.out)
	}
	p.out = p.out[:0]
	if p.bare && !p.Gone() {
		if p.tls != nil {
			p.tls.CloseNotify()
		}
		_ = p.loop.Close(p.c)
	}
}

// Fail ends r for its client; safe from any goroutine. A bare client is
// closed (the original's behaviour); a framed one gets its request back
// as a response with a code saying why.
func (p *posConn) Fail(r *dispatch.Request, err error) {
	p.inflight.Add(-1)
	g := p.g
	if p.Gone() {
		return
	}
	g.log.Warn().Err(err).Str("peer", p.peer).Str("mti", r.MTI.String()).Msg("POS request failed")
	if p.bare {
		p.close()
		return
	}
	var s isocodec.Scan
	if g.cfg.Dialect.Layout.Scan(r.Msg, &s) != nil {
		p.close()
		return
	}
	reply, e := g.cfg.Dialect.Layout.AppendEdited(nil, r.MTI.Response(), r.Msg, &s, isocodec.Set(39, []byte(g.codes.of(err))))
	if e != nil {
		p.close()
		return
	}
	framed, e := g.cfg.POSFraming.Append(nil, reply)
	if e != nil {
		p.close()
		return
	}
	p.send(framed)
}

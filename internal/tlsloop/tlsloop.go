// Package tlsloop runs a TLS connection's records on the event loop that
// owns its socket.
//
// The handshake is slow, blocking and rare, so it runs on a goroutine of
// its own over the ordinary TCP connection. Then the socket is handed to a
// gnet loop and the tls.Conn is kept: its transport, a Socket, stops
// reading the kernel and reads what the loop has read instead, answering
// "would block" (a temporary net.Error, which crypto/tls survives with its
// partial records kept) when that is used up; its writes become the loop's
// own writes. Encryption and decryption then cost what they cost, with no
// goroutine, copy or wake-up per message between the loop and the socket.
//
// Concurrency: after Attach every method but Send and SendClose runs on
// the connection's loop, which alone touches the tls.Conn; Send and
// SendClose may be called from any goroutine and only queue, waking the
// loop (gnet's Wake, which runs OnTraffic) to write what was queued.
//
// Invariants: bytes keep their order each way; a record is written whole
// and in sequence, because only the loop writes; plaintext crypto/tls
// decrypted before the hand-over (a client's first request riding with
// its Finished) is read at the first OnTraffic, which Attach's Wake
// brings.
package tlsloop

import (
	"crypto/tls"
	"errors"
	"io"
	"net"
	"slices"
	"sync"
	"time"

	"github.com/panjf2000/gnet/v2"
)

// readRoom is the least free room given to each decryption: a typical
// request, so that a buffer once grown is reused.
const readRoom = 4 << 10

// errWouldBlock tells crypto/tls that the loop has given it all it read.
var errWouldBlock net.Error = wouldBlock{}

type wouldBlock struct{}

func (wouldBlock) Error() string   { return "tlsloop: no more input until the loop reads" }
func (wouldBlock) Timeout() bool   { return true }
func (wouldBlock) Temporary() bool { return true }

// Socket is the transport under a tls.Conn: the TCP connection itself
// while the handshake runs on its goroutine, then, once attached, the
// loop's view of the same socket.
type Socket struct {
	net.Conn // the accepted connection; closed by the hand-over
	loop     gnet.Conn
	in       []byte // read by the loop, not yet taken by crypto/tls
}

// Wrap is the transport to give tls.Server (or tls.Client) for c.
func Wrap(c net.Conn) net.Conn { return &Socket{Conn: c} }

// Read gives crypto/tls what the loop read.
func (s *Socket) Read(b []byte) (int, error) {
	if s.loop == nil {
		return s.Conn.Read(b)
	}
	if len(s.in) == 0 {
		return 0, errWouldBlock
	}
	n := copy(b, s.in)
	s.in = s.in[n:]
	return n, nil
}

// Write sends a record: gnet writes what the kernel takes and buffers the
// rest.
func (s *Socket) Write(b []byte) (int, error) {
	if s.loop == nil {
		return s.Conn.Write(b)
	}
	return s.loop.Write(b)
}

// Close closes the connection before the hand-over; after it the loop
// closes the socket.
func (s *Socket) Close() error {
	if s.loop == nil {
		return s.Conn.Close()
	}
	return nil
}

// SetDeadline and its kin bound the handshake; the loop has its own
// timers.
func (s *Socket) SetDeadline(t time.Time) error {
	if s.loop == nil {
		return s.Conn.SetDeadline(t)
	}
	return nil
}

func (s *Socket) SetReadDeadline(t time.Time) error {
	if s.loop == nil {
		return s.Conn.SetReadDeadline(t)
	}
	return nil
}

func (s *Socket) SetWriteDeadline(t time.Time) error {
	if s.loop == nil {
		return s.Conn.SetWriteDeadline(t)
	}
	return nil
}

// Conn is a TLS connection, handshake done, whose records the loop moves.
type Conn struct {
	tc    *tls.Conn
	s     *Socket
	ended error // why the peer's side ended: io.EOF for close_notify

	mu      sync.Mutex
	queued  []byte // plaintext sent from other goroutines
	spare   []byte
	closing bool // SendClose was called
	woken   bool
}

// Of returns the loop connection for tc, whose transport is a Socket
// (tls.Server(Wrap(c), …)); false when it is not.
func Of(tc *tls.Conn) (*Conn, bool) {
	s, ok := tc.NetConn().(*Socket)
	if !ok {
		return nil, false
	}
	return &Conn{tc: tc, s: s}, true
}

// Socket is the connection to hand to the loops (gnet's Register), which
// take a duplicate of its descriptor and close it.
func (c *Conn) Socket() net.Conn { return c.s.Conn }

// State is the TLS connection's state (the peer's certificates).
func (c *Conn) State() tls.ConnectionState { return c.tc.ConnectionState() }

// Attach moves the connection onto gc's loop; it runs in OnOpen. The
// Wake brings an OnTraffic for what crypto/tls read during the
// handshake.
func (c *Conn) Attach(gc gnet.Conn) {
	c.s.loop = gc
	_ = gc.Wake(nil)
}

// AppendRead decrypts everything the loop has read and appends the
// plaintext to dst. A peer that ended its side shows in Ended once the
// plaintext before it is returned.
func (c *Conn) AppendRead(dst []byte) []byte {
	raw, _ := c.s.loop.Next(-1)
	c.s.in = raw
	for c.ended == nil {
		dst = slices.Grow(dst, readRoom)
		n, err := c.tc.Read(dst[len(dst):cap(dst)])
		dst = dst[:len(dst)+n]
		if err == nil {
			continue
		}
		if !errors.Is(err, errWouldBlock) {
			c.ended = err
		}
		break
	}
	c.s.in = nil
	return dst
}

// Ended is why the peer's side ended: nil while it is open, io.EOF for a
// clean close (close_notify, or the TCP close at a record's end), else the
// TLS error (a bad record, an alert).
func (c *Conn) Ended() error { return c.ended }

// Clean reports whether err, from Ended, is a clean close.
func Clean(err error) bool { return errors.Is(err, io.EOF) }

// Write encrypts b and writes it on the loop.
func (c *Conn) Write(b []byte) (int, error) { return c.tc.Write(b) }

// Send queues b, which it copies, to be written on the loop; any
// goroutine. false: the connection is closing and b was not queued.
func (c *Conn) Send(b []byte) bool {
	c.mu.Lock()
	if c.closing {
		c.mu.Unlock()
		return false
	}
	c.queued = append(c.queued, b...)
	wake := !c.woken
	c.woken = true
	c.mu.Unlock()
	if wake {
		_ = c.s.loop.Wake(nil)
	}
	return true
}

// SendClose asks the loop to write what is queued, then close_notify,
// then close; any goroutine. The loop learns it from Flush.
func (c *Conn) SendClose() {
	c.mu.Lock()
	c.closing = true
	wake := !c.woken
	c.woken = true
	c.mu.Unlock()
	if wake {
		_ = c.s.loop.Wake(nil)
	}
}

// Flush writes what Send queued; true when SendClose asks the loop to
// close (after CloseNotify). It runs on the loop, first in OnTraffic.
func (c *Conn) Flush() (closing bool) {
	c.mu.Lock()
	out := c.queued
	c.queued = c.spare[:0]
	c.woken = false
	closing = c.closing
	c.mu.Unlock()
	if len(out) > 0 {
		_, _ = c.tc.Write(out)
	}
	c.mu.Lock()
	c.spare = out[:0]
	c.mu.Unlock()
	return closing
}

// CloseNotify tells the peer that nothing more comes (TLS close_notify),
// before the loop closes the socket. On the loop.
func (c *Conn) CloseNotify() { _ = c.tc.CloseWrite() }

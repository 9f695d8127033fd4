// Package tlspipe carries a TLS connection's plaintext to an event loop.
//
// gnet's loops read and write ordinary sockets and must never block, and
// Go's crypto/tls is written for a blocking net.Conn. So a connection whose
// handshake is done is given two goroutines, one each way, copying between
// the tls.Conn and one end of a Unix socketpair; the loop is given the
// other end, an ordinary stream socket, and its code does not know TLS is
// there.
//
// Invariants: bytes keep their order each way; a close on either side
// reaches the other (the peer's close_notify or EOF is a half-close of the
// loop's socket, as on plain TCP, so replies still written go out before
// the loop's close; the loop's close sends close_notify and closes the
// TCP connection); a write to the peer that takes longer than the write
// timeout closes both, so a peer that stops reading holds nothing forever.
package tlspipe

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"syscall"
	"time"

	"github.com/panjf2000/gnet/v2"
)

// recordSize is the most plaintext one TLS record carries.
const recordSize = 16 << 10

// Options tune a pipe; the zero value has no write timeout.
type Options struct {
	// WriteTimeout bounds each write to the peer.
	WriteTimeout time.Duration
	// First is plaintext already read from tc, handed to the loop first.
	First []byte
	// Ended, when set, is told why the peer's side ended: nil for a
	// clean close (close_notify or EOF), else the error (a TLS alert,
	// a reset, the write timeout). It runs on a pipe goroutine and must
	// not block.
	Ended func(err error)
}

// Open starts the copying for tc, whose handshake is done, and returns the
// loop's end of the pair. The caller closes that end once the loop holds
// its own copy (gnet's Register duplicates the descriptor); the goroutines
// close tc and their end when done.
func Open(tc *tls.Conn, o Options) (net.Conn, error) {
	loopEnd, ours, err := socketPair()
	if err != nil {
		return nil, err
	}
	if o.Ended == nil {
		o.Ended = func(error) {}
	}
	go up(tc, ours, o)
	go down(tc, ours, o.WriteTimeout)
	return loopEnd, nil
}

// up copies what the peer sends to the loop.
func up(tc *tls.Conn, ours *net.UnixConn, o Options) {
	if len(o.First) > 0 {
		if _, err := ours.Write(o.First); err != nil {
			_ = tc.Close()
			_ = ours.Close()
			o.Ended(err)
			return
		}
	}
	buf := make([]byte, recordSize)
	for {
		n, err := tc.Read(buf)
		if n > 0 {
			if _, werr := ours.Write(buf[:n]); werr != nil {
				_ = tc.Close()
				_ = ours.Close()
				o.Ended(nil) // the loop closed first
				return
			}
		}
		if err == nil {
			continue
		}
		if errors.Is(err, io.EOF) {
			// The peer is done sending; the loop may still answer.
			_ = ours.CloseWrite()
			o.Ended(nil)
			return
		}
		_ = tc.Close()
		_ = ours.Close()
		if errors.Is(err, net.ErrClosed) {
			err = nil // closed by down: the loop's close or a stalled peer
		}
		o.Ended(err)
		return
	}
}

// down copies what the loop writes to the peer; the loop's close ends it.
func down(tc *tls.Conn, ours *net.UnixConn, writeTimeout time.Duration) {
	defer func() {
		_ = tc.Close() // close_notify, then the TCP close
		_ = ours.Close()
	}()
	buf := make([]byte, recordSize)
	for {
		n, err := ours.Read(buf)
		if n > 0 {
			if writeTimeout > 0 {
				_ = tc.SetWriteDeadline(time.Now().Add(writeTimeout))
			}
			if _, werr := tc.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// socketPair makes a connected pair of Unix stream sockets.
func socketPair() (*net.UnixConn, *net.UnixConn, error) {
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, nil, fmt.Errorf("tlspipe: socketpair: %w", err)
	}
	a, err := fileConn(fds[0])
	if err != nil {
		_ = syscall.Close(fds[1])
		return nil, nil, err
	}
	b, err := fileConn(fds[1])
	if err != nil {
		_ = a.Close()
		return nil, nil, err
	}
	return a, b, nil
}

func fileConn(fd int) (*net.UnixConn, error) {
	f := os.NewFile(uintptr(fd), "tlspipe")
	defer f.Close() // FileConn holds a duplicate
	c, err := net.FileConn(f)
	if err != nil {
		return nil, fmt.Errorf("tlspipe: socket: %w", err)
	}
	return c.(*net.UnixConn), nil
}

// Enroll pipes tc, whose handshake is done, into eng with tag as the
// connection's context (gnet's Register; its loops must be running). On
// an error tc is closed.
func Enroll(ctx context.Context, eng gnet.Engine, tc *tls.Conn, tag any, o Options) error {
	loopEnd, err := Open(tc, o)
	if err != nil {
		_ = tc.Close()
		return err
	}
	// gnet keeps its own copy of the descriptor; closing ours (always)
	// leaves the pipe to it, or, when it took none, ends the pipe.
	defer loopEnd.Close()
	return Register(ctx, eng, loopEnd, tag)
}

// Register hands conn to eng with tag as its context and waits until a
// loop holds it. The caller closes conn (gnet holds a duplicate).
func Register(ctx context.Context, eng gnet.Engine, conn net.Conn, tag any) error {
	res, err := eng.Register(gnet.NewContext(gnet.NewNetConnContext(ctx, conn), tag))
	if err == nil {
		err = (<-res).Err
	}
	if err != nil {
		return fmt.Errorf("register with the event loops: %w", err)
	}
	return nil
}

package tlsloop

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/panjf2000/gnet/v2"
	"github.com/rs/zerolog"

	"github.com/socketqueue/socketqueue-go/internal/testpki"
	"github.com/socketqueue/socketqueue-go/logging"
)

// echoLoops is a real gnet engine whose connections are TLS servers on
// their loops: what a peer sends comes back, except the commands below.
type echoLoops struct {
	gnet.BuiltinEventEngine
	eng   gnet.Engine
	ready chan struct{}
	once  sync.Once
}

// Commands a peer can send (alone in a record): "elsewhere" is answered
// through Send from another goroutine, "bye" through SendClose.
const (
	cmdElsewhere = "elsewhere"
	cmdBye       = "bye"
)

func (e *echoLoops) OnBoot(eng gnet.Engine) gnet.Action { e.eng = eng; return gnet.None }

func (e *echoLoops) OnTick() (time.Duration, gnet.Action) {
	e.once.Do(func() { close(e.ready) })
	return time.Hour, gnet.None
}

// echoConn is a connection's context on its loop.
type echoConn struct {
	lc    *Conn
	buf   []byte
	ended chan error // its Ended, when it ends
}

func (e *echoLoops) OnOpen(c gnet.Conn) ([]byte, gnet.Action) {
	switch ctx := c.Context().(type) {
	case *echoConn:
		ctx.lc.Attach(c)
		return nil, gnet.None
	case plainConn:
		return nil, gnet.None
	}
	return nil, gnet.Close // the engine's own listener serves nobody
}

// plainConn marks a plaintext connection, echoed as it is.
type plainConn struct{}

func (e *echoLoops) OnTraffic(c gnet.Conn) gnet.Action {
	if _, ok := c.Context().(plainConn); ok {
		b, _ := c.Next(-1)
		_, _ = c.Write(b)
		return gnet.None
	}
	ec := c.Context().(*echoConn)
	lc := ec.lc
	if lc.Flush() {
		lc.CloseNotify()
		return gnet.Close
	}
	ec.buf = lc.AppendRead(ec.buf[:0])
	got := ec.buf
	switch string(got) {
	case cmdElsewhere:
		go lc.Send([]byte("from elsewhere"))
	case cmdBye:
		go func() { lc.Send([]byte("goodbye")); lc.SendClose() }()
	default:
		if len(got) > 0 {
			if _, err := lc.Write(got); err != nil {
				return gnet.Close
			}
		}
	}
	if err := lc.Ended(); err != nil {
		ec.ended <- err
		return gnet.Close
	}
	return gnet.None
}

func startLoops(t testing.TB) *echoLoops {
	t.Helper()
	e := &echoLoops{ready: make(chan struct{})}
	done := make(chan error, 1)
	go func() {
		done <- gnet.Run(e, "tcp://127.0.0.1:0", gnet.WithTicker(true), gnet.WithMulticore(true), gnet.WithNumEventLoop(2), gnet.WithLogger(logging.Gnet(zerolog.Nop())))
	}()
	select {
	case <-e.ready:
	case err := <-done:
		t.Fatalf("gnet: %v", err)
	}
	t.Cleanup(func() {
		_ = e.eng.Stop(context.Background())
		<-done
	})
	return e
}

// gatedConn holds the reads after the server's first flight (those of
// the client's Finished) until open is closed: the Finished then
// arrives with what the client wrote after it, and the handshake reads
// both.
type gatedConn struct {
	*net.TCPConn
	wrote bool
	open  chan struct{}
}

func (g *gatedConn) Read(b []byte) (int, error) {
	if g.wrote {
		<-g.open
	}
	return g.TCPConn.Read(b)
}

func (g *gatedConn) Write(b []byte) (int, error) {
	g.wrote = true
	return g.TCPConn.Write(b)
}

// dial makes a TLS connection to a server handshaking on its own
// goroutine and handed to e's loops, as the gateway does; early is
// written by the client before the server reads its Finished. ended
// gets the server's Ended.
func dial(t testing.TB, e *echoLoops, early []byte) (client *tls.Conn, ended chan error) {
	t.Helper()
	open := make(chan struct{})
	ended = make(chan error, 1)
	cert, conf := testpki.MustTLS(t, t.TempDir())
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	served := make(chan error, 1)
	go func() {
		raw, err := ln.Accept()
		if err != nil {
			served <- err
			return
		}
		gated := &gatedConn{TCPConn: raw.(*net.TCPConn), open: open}
		tc := tls.Server(Wrap(gated), &tls.Config{Certificates: []tls.Certificate{cert}})
		if err := tc.Handshake(); err != nil {
			served <- err
			return
		}
		lc, ok := Of(tc)
		if !ok {
			served <- errors.New("no loop transport")
			return
		}
		res, err := e.eng.Register(gnet.NewContext(gnet.NewNetConnContext(context.Background(), gated.TCPConn), &echoConn{lc: lc, ended: ended}))
		if err == nil {
			err = (<-res).Err
		}
		served <- err
	}()
	client, err = tls.Dial("tcp", ln.Addr().String(), conf)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })
	if len(early) > 0 {
		if _, err := client.Write(early); err != nil {
			t.Fatal(err)
		}
	}
	close(open)
	if err := <-served; err != nil {
		t.Fatal(err)
	}
	return client, ended
}

func TestLoopTLS(t *testing.T) {
	e := startLoops(t)
	tests := []struct {
		name string
		run  func(t *testing.T, c *tls.Conn, ended chan error)
	}{
		{"bytes keep their order both ways, across records", func(t *testing.T, c *tls.Conn, ended chan error) {
			want := bytes.Repeat([]byte("0123456789abcdef"), 1<<16) // 1 MiB, 64 records
			go c.Write(want)
			got := make([]byte, len(want))
			if _, err := io.ReadFull(c, got); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Fatal("echoed bytes differ")
			}
		}},
		{"a write from another goroutine goes out on the loop", func(t *testing.T, c *tls.Conn, ended chan error) {
			c.Write([]byte(cmdElsewhere))
			readWant(t, c, "from elsewhere")
			c.Write([]byte("still open"))
			readWant(t, c, "still open")
		}},
		{"SendClose writes what was queued, then close_notify", func(t *testing.T, c *tls.Conn, ended chan error) {
			c.Write([]byte(cmdBye))
			got, err := io.ReadAll(c)
			if err != nil || string(got) != "goodbye" {
				t.Fatalf("read %q, %v; want goodbye, then close_notify (a clean EOF)", got, err)
			}
		}},
		{"the peer's close_notify ends it cleanly", func(t *testing.T, c *tls.Conn, ended chan error) {
			c.Close()
			if err := <-ended; !Clean(err) {
				t.Fatalf("Ended %v, want a clean close", err)
			}
		}},
		{"a forged record ends it with the TLS error", func(t *testing.T, c *tls.Conn, ended chan error) {
			c.NetConn().Write([]byte{23, 3, 3, 0, 20, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20})
			if err := <-ended; err == nil || Clean(err) {
				t.Fatalf("Ended %v, want a TLS error", err)
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, ended := dial(t, e, nil)
			tc.run(t, c, ended)
		})
	}
}

// TestLoopTLSEarlyData: a request written right after the client's
// Finished, which the handshake read along with it, reaches the loop
// without the client sending more.
func TestLoopTLSEarlyData(t *testing.T) {
	e := startLoops(t)
	c, _ := dial(t, e, []byte("first request"))
	readWant(t, c, "first request")
}

func readWant(t *testing.T, c *tls.Conn, want string) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(10 * time.Second)) // a failure, not a hang
	defer c.SetReadDeadline(time.Time{})
	got := make([]byte, len(want))
	if _, err := io.ReadFull(c, got); err != nil || string(got) != want {
		t.Fatalf("read %q, %v; want %q", got, err, want)
	}
}

// BenchmarkRoundTrip: one 64-byte request and its echo per op, through
// a gnet loop, plaintext and with the server's TLS records moved by the
// loop; the ratio is what TLS costs a loop's connection.
func BenchmarkRoundTrip(b *testing.B) {
	e := startLoops(b)
	msg := bytes.Repeat([]byte{'x'}, 64)
	for _, name := range []string{"plain", "tls"} {
		b.Run(name, func(b *testing.B) {
			var c net.Conn
			if name == "tls" {
				c, _ = dial(b, e, nil)
			} else {
				c = dialPlain(b, e)
			}
			buf := make([]byte, len(msg))
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				if _, err := c.Write(msg); err != nil {
					b.Fatal(err)
				}
				if _, err := io.ReadFull(c, buf); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// dialPlain connects a plaintext client to e's loops.
func dialPlain(b *testing.B, e *echoLoops) net.Conn {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	client, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { client.Close() })
	server, err := ln.Accept()
	if err != nil {
		b.Fatal(err)
	}
	defer server.Close() // gnet holds a duplicate
	res, err := e.eng.Register(gnet.NewContext(gnet.NewNetConnContext(context.Background(), server), plainConn{}))
	if err == nil {
		err = (<-res).Err
	}
	if err != nil {
		b.Fatal(err)
	}
	return client
}

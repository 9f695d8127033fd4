package tlspipe

import (
	"bytes"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"testing"
	"time"

	"github.com/socketqueue/socketqueue-go/internal/testpki"
)

// pipeRig is a real TLS connection over loopback TCP whose server side
// is piped: client is the peer, loop the event loop's end.
type pipeRig struct {
	client *tls.Conn
	loop   net.Conn
}

func newRig(t testing.TB, writeTimeout time.Duration) *pipeRig { return rig(t, writeTimeout, true) }

// rig without piped gives the tls.Conn itself as loop, for comparison.
func rig(t testing.TB, writeTimeout time.Duration, piped bool) *pipeRig {
	t.Helper()
	cert, conf := testpki.MustTLS(t, t.TempDir())
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	type res struct {
		c   net.Conn
		err error
	}
	got := make(chan res, 1)
	go func() {
		raw, err := ln.Accept()
		if err != nil {
			got <- res{nil, err}
			return
		}
		tc := tls.Server(raw, &tls.Config{Certificates: []tls.Certificate{cert}})
		if err := tc.Handshake(); err != nil {
			got <- res{nil, err}
			return
		}
		if !piped {
			got <- res{tc, nil}
			return
		}
		c, err := Open(tc, Options{WriteTimeout: writeTimeout})
		got <- res{c, err}
	}()
	client, err := tls.Dial("tcp", ln.Addr().String(), conf)
	if err != nil {
		t.Fatal(err)
	}
	r := <-got
	if r.err != nil {
		t.Fatal(r.err)
	}
	t.Cleanup(func() { client.Close(); r.c.Close() })
	return &pipeRig{client: client, loop: r.c}
}

func TestPipe(t *testing.T) {
	tests := []struct {
		name string
		run  func(t *testing.T, r *pipeRig)
	}{
		{"bytes keep their order both ways, across records", func(t *testing.T, r *pipeRig) {
			go io.Copy(r.loop, r.loop)                              // the loop echoes
			want := bytes.Repeat([]byte("0123456789abcdef"), 1<<16) // 1 MiB, 64 records
			go r.client.Write(want)
			got := make([]byte, len(want))
			if _, err := io.ReadFull(r.client, got); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Fatal("echoed bytes differ")
			}
		}},
		{"the peer's close_notify half-closes: the reply still goes out", func(t *testing.T, r *pipeRig) {
			if _, err := r.client.Write([]byte("request")); err != nil {
				t.Fatal(err)
			}
			if err := r.client.CloseWrite(); err != nil {
				t.Fatal(err)
			}
			got, err := io.ReadAll(r.loop)
			if err != nil || string(got) != "request" {
				t.Fatalf("loop read %q, %v; want the request, then EOF", got, err)
			}
			r.loop.Write([]byte("reply"))
			r.loop.Close()
			back, err := io.ReadAll(r.client)
			if err != nil || string(back) != "reply" {
				t.Fatalf("peer read %q, %v; want the reply, then close_notify", back, err)
			}
		}},
		{"the loop's close reaches the peer as close_notify", func(t *testing.T, r *pipeRig) {
			r.loop.Close()
			n, err := r.client.Read(make([]byte, 8))
			if n != 0 || !errors.Is(err, io.EOF) {
				t.Fatalf("peer read %d, %v; want EOF", n, err)
			}
		}},
		{"a peer gone without close_notify closes the loop's end", func(t *testing.T, r *pipeRig) {
			r.client.NetConn().Close()
			if _, err := io.ReadAll(r.loop); err != nil {
				t.Fatalf("loop read: %v; want EOF", err)
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.run(t, newRig(t, time.Minute)) })
	}
}

// TestPipeFirstAndEnded: bytes read before the pipe go to the loop
// first; a clean close is reported as nil, an abrupt one as its error.
func TestPipeFirstAndEnded(t *testing.T) {
	for _, tc := range []struct {
		name    string
		end     func(c *tls.Conn)
		wantErr bool
	}{
		{"close_notify", func(c *tls.Conn) { c.Close() }, false},
		{"a record cut short", func(c *tls.Conn) { c.NetConn().Write([]byte{23, 3, 3, 0, 40, 1}); c.NetConn().Close() }, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := rig(t, time.Minute, false)
			ended := make(chan error, 1)
			loop, err := Open(r.loop.(*tls.Conn), Options{First: []byte("early:"), Ended: func(err error) { ended <- err }})
			if err != nil {
				t.Fatal(err)
			}
			defer loop.Close()
			r.client.Write([]byte("late"))
			got := make([]byte, 10)
			if _, err := io.ReadFull(loop, got); err != nil || string(got) != "early:late" {
				t.Fatalf("loop read %q, %v", got, err)
			}
			tc.end(r.client)
			if err := <-ended; (err != nil) != tc.wantErr {
				t.Fatalf("Ended(%v), want an error: %v", err, tc.wantErr)
			}
		})
	}
}

// TestPipeWriteTimeout: a peer that stops reading is cut off at the
// write timeout, so the loop's writes fail instead of piling up.
func TestPipeWriteTimeout(t *testing.T) {
	r := newRig(t, 100*time.Millisecond)
	chunk := make([]byte, 64<<10)
	for {
		// The socketpair and TCP buffers fill, then the peer's stall
		// closes both ends and a write fails.
		if _, err := r.loop.Write(chunk); err != nil {
			return
		}
	}
}

// BenchmarkRoundTrip: one 64-byte request and its reply per op, over TLS
// straight and over TLS through the pipe to a loop that echoes; the
// ratio is the pipe's cost on top of TLS.
func BenchmarkRoundTrip(b *testing.B) {
	msg := bytes.Repeat([]byte{'x'}, 64)
	for _, piped := range []bool{false, true} {
		name := map[bool]string{false: "tls", true: "tls_piped"}[piped]
		b.Run(name, func(b *testing.B) {
			r := rig(b, time.Minute, piped)
			go io.Copy(r.loop, r.loop)
			buf := make([]byte, len(msg))
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				if _, err := r.client.Write(msg); err != nil {
					b.Fatal(err)
				}
				if _, err := io.ReadFull(r.client, buf); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

package bank

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/socketqueue/socketqueue-go/isocodec"
)

// startBank runs a real emulator on a random loopback port.
func startBank(t testing.TB, d *isocodec.Dialect, f Faults, seed uint64) *Server {
	t.Helper()
	host, err := NewHost(HostConfig{Dialect: d, Faults: f, Seed: seed})
	if err != nil {
		t.Fatal(err)
	}
	fr, err := isocodec.FramingByName("ascii4", isocodec.FramingConfig{Layout: d.Layout})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := Start(Config{Addr: "127.0.0.1:0", Host: host, Framing: fr, Log: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Error(err)
		}
	})
	return srv
}

// client speaks 4-ASCII-digit framing over a real connection.
type client struct {
	t    testing.TB
	d    *isocodec.Dialect
	conn net.Conn
	r    *bufio.Reader
}

func dial(t testing.TB, srv *Server) *client {
	t.Helper()
	c, err := net.Dial("tcp", srv.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &client{t: t, d: srv.Host().Dialect(), conn: c, r: bufio.NewReader(c)}
}

func (c *client) sendRaw(msg []byte) {
	c.t.Helper()
	frame := fmt.Appendf(nil, "%04d", len(msg))
	if _, err := c.conn.Write(append(frame, msg...)); err != nil {
		c.t.Fatal(err)
	}
}

func (c *client) send(f isocodec.Fields) {
	c.t.Helper()
	msg, err := c.d.Pack(f)
	if err != nil {
		c.t.Fatal(err)
	}
	c.sendRaw(msg)
}

// recvRaw reads one frame; io.EOF-like errors are returned, not fatal.
func (c *client) recvRaw(timeout time.Duration) ([]byte, error) {
	c.conn.SetReadDeadline(time.Now().Add(timeout))
	var hdr [4]byte
	if _, err := io.ReadFull(c.r, hdr[:]); err != nil {
		return nil, err
	}
	n, err := strconv.Atoi(string(hdr[:]))
	if err != nil {
		return nil, err
	}
	msg := make([]byte, n)
	_, err = io.ReadFull(c.r, msg)
	return msg, err
}

func (c *client) recv() isocodec.Fields {
	c.t.Helper()
	msg, err := c.recvRaw(5 * time.Second)
	if err != nil {
		c.t.Fatal(err)
	}
	f, err := c.d.Unpack(msg)
	if err != nil {
		c.t.Fatal(err)
	}
	return f
}

func (c *client) exchange(f isocodec.Fields) isocodec.Fields {
	c.t.Helper()
	c.send(f)
	return c.recv()
}

const testTrack2 = "4850781234567891=19082012232800000037"

var testPAN, _ = PANOf([]byte(testTrack2))

func purchase(stan, tid, track2, amount string) isocodec.Fields {
	return isocodec.Fields{
		0: "0200", 3: "000000", 4: amount, 7: "1125120000", 11: stan, 12: "261125120000",
		22: "051", 24: "200", 25: "00", 35: track2, 41: tid, 42: "000124642124643", 49: "810",
	}
}

func reversalOf(p isocodec.Fields) isocodec.Fields {
	r := isocodec.Fields{}
	for k, v := range p {
		r[k] = v
	}
	r[0], r[24] = "0400", "400"
	return r
}

func echo(stan, tid string) isocodec.Fields {
	return isocodec.Fields{0: "0800", 3: "990000", 7: "1125120000", 11: stan, 24: "831", 41: tid, 42: "000124642124643"}
}

func readTestdata(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

package server

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

	"github.com/socketqueue/socketqueue-go/bank"
	"github.com/socketqueue/socketqueue-go/isocodec"
)

var sv = isocodec.SmartVista

func ascii4(t testing.TB) *isocodec.Framing {
	f, err := isocodec.FramingByName("ascii4", isocodec.FramingConfig{Layout: sv.Layout})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func bareFraming(t testing.TB) *isocodec.Framing {
	f, err := isocodec.FramingByName("bare", isocodec.FramingConfig{Layout: sv.Layout})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// startBank runs the real emulator on a random loopback port.
func startBank(t testing.TB, f bank.Faults, addr string) *bank.Server {
	t.Helper()
	return startHost(t, bank.HostConfig{Faults: f, Seed: 1}, addr)
}

// startHost starts an emulator of hc (smartVista, ascii4 framing) on
// addr ("": a free port), stopped at the test's end.
func startHost(t testing.TB, hc bank.HostConfig, addr string) *bank.Server {
	t.Helper()
	hc.Dialect = sv
	host, err := bank.NewHost(hc)
	if err != nil {
		t.Fatal(err)
	}
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	srv, err := bank.Start(bank.Config{Addr: addr, Host: host, Framing: ascii4(t), Log: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stopBank(t, srv) })
	return srv
}

func stopBank(t testing.TB, srv *bank.Server) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		t.Error(err)
	}
}

// testLog is where gateway logs go in tests: nowhere, unless
// SOCKETQUEUE_TEST_LOG is set.
func testLog() zerolog.Logger {
	if os.Getenv("SOCKETQUEUE_TEST_LOG") != "" {
		return zerolog.New(zerolog.ConsoleWriter{Out: os.Stderr}).Level(zerolog.DebugLevel)
	}
	return zerolog.Nop()
}

// startGateway runs a gateway in front of upstream with POS (bare unless
// cfg says otherwise) and HTTP on random ports, and waits for the link.
func startGateway(t testing.TB, upstream string, mod func(*Config)) *Gateway {
	t.Helper()
	cfg := Config{
		Dialect: sv, HostFraming: ascii4(t), POSFraming: bareFraming(t),
		UpstreamAddr: upstream, POSAddr: "127.0.0.1:0", HTTPAddr: "127.0.0.1:0", AdminAddr: "127.0.0.1:0",
		LockTerminal: true, MaxQueue: 10000, QueueTimeout: 10 * time.Second,
		RetryOther: 20 * time.Millisecond, RetryRefused: 20 * time.Millisecond,
		Log: testLog(),
	}
	if mod != nil {
		mod(&cfg)
	}
	g, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := g.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := g.Shutdown(ctx); err != nil {
			t.Error(err)
		}
	})
	if cfg.UpstreamAddr != "" {
		waitLink(t, g, true)
	}
	return g
}

func waitLink(t testing.TB, g *Gateway, up bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := g.WaitLink(ctx, up); err != nil {
		t.Fatalf("link never %v: %v", map[bool]string{true: "up", false: "down"}[up], err)
	}
}

func now12() string { return time.Now().Format("060102150405") }

func stan(i int) string {
	s := strconv.Itoa(i)
	return "000000"[len(s):] + s
}

func tid(i int) string {
	s := strconv.Itoa(i)
	return "00000000"[len(s):] + s
}

func purchaseFields(stanN int, tidS, amount string) isocodec.Fields {
	return isocodec.Fields{
		0: "0200", 3: "000000", 4: amount, 7: "1125120000", 11: stan(stanN), 12: now12(),
		22: "051", 24: "200", 25: "00", 35: "4850781234567891=19082012232800000037", 41: tidS,
		42: "000124642124643", 49: "810",
	}
}

func pack(t testing.TB, f isocodec.Fields) []byte {
	t.Helper()
	b, err := sv.Pack(f)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func unpack(t testing.TB, b []byte) isocodec.Fields {
	t.Helper()
	f, err := sv.Unpack(b)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// bareExchange is the original's POS client: connect, send one bare
// message, read the bare reply until the gateway closes.
func bareExchange(addr string, msg []byte) ([]byte, error) {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(15 * time.Second))
	if _, err := c.Write(msg); err != nil {
		return nil, err
	}
	return io.ReadAll(c)
}

// framedConn is a persistent client with 4-digit framing.
type framedConn struct {
	net.Conn
	r *bufio.Reader
}

func dialFramed(t testing.TB, addr string) *framedConn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &framedConn{c, bufio.NewReader(c)}
}

func frame(msg []byte) []byte { return append(fmt.Appendf(nil, "%04d", len(msg)), msg...) }

func (c *framedConn) read(timeout time.Duration) ([]byte, error) {
	c.SetReadDeadline(time.Now().Add(timeout))
	var hdr [4]byte
	if _, err := io.ReadFull(c.r, hdr[:]); err != nil {
		return nil, err
	}
	n, err := strconv.Atoi(string(hdr[:]))
	if err != nil {
		return nil, err
	}
	b := make([]byte, n)
	_, err = io.ReadFull(c.r, b)
	return b, err
}

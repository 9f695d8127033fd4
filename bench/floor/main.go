// Command floor is the stack's floor for a relay: a gnet proxy on one
// event loop that passes each client connection's bytes to an upstream
// connection of its own and the upstream's back, reading nothing in
// them (no framing, no parse, no check, no matching, no counting). Run
// under the same load as the gateway (bench/cpu.sh floor), its CPU per
// message is what gnet and the kernel cost a relayed message before
// the gateway does any of its work.
//
//	go run ./bench/floor --listen=127.0.0.1:12014 --upstream=127.0.0.1:15000
//
// Concurrency: every callback runs on the one loop, which owns the
// pairs; the upstream connections are dialled at start, before any
// client is taken.
package main

import (
	"context"
	"flag"
	"fmt"
	"net"
	"os"
	"time"

	"github.com/panjf2000/gnet/v2"
)

type proxy struct {
	gnet.BuiltinEventEngine
	upstream *net.TCPAddr
	dial     int
	eng      gnet.Engine
	free     []gnet.Conn // upstream connections no client has
	ready    chan error
}

// upTag marks an upstream connection; its context becomes the client
// it serves.
type upTag struct{}

type pair struct{ peer gnet.Conn }

func (p *proxy) OnBoot(eng gnet.Engine) gnet.Action {
	p.eng = eng
	return gnet.None
}

// OnTick dials the upstream connections once the loop runs (Register
// is only safe then).
func (p *proxy) OnTick() (time.Duration, gnet.Action) {
	if p.dial > 0 {
		n := p.dial
		p.dial = 0
		go func() {
			for range n {
				ch, err := p.eng.Register(gnet.NewContext(gnet.NewNetAddrContext(context.Background(), p.upstream), upTag{}))
				if err == nil {
					if res := <-ch; res.Err != nil {
						err = res.Err
					}
				}
				if err != nil {
					p.ready <- fmt.Errorf("floor: dial %s: %w", p.upstream, err)
					return
				}
			}
			p.ready <- nil
		}()
	}
	return time.Hour, gnet.None
}

func (p *proxy) OnOpen(c gnet.Conn) ([]byte, gnet.Action) {
	if _, up := c.Context().(upTag); up {
		c.SetContext(&pair{})
		p.free = append(p.free, c)
		return nil, gnet.None
	}
	if len(p.free) == 0 {
		return nil, gnet.Close
	}
	up := p.free[len(p.free)-1]
	p.free = p.free[:len(p.free)-1]
	up.Context().(*pair).peer = c
	c.SetContext(&pair{peer: up})
	return nil, gnet.None
}

func (p *proxy) OnClose(c gnet.Conn, _ error) gnet.Action {
	pr, ok := c.Context().(*pair)
	if !ok || pr.peer == nil {
		return gnet.None
	}
	if upPair := pr.peer.Context().(*pair); upPair.peer == c { // a client went: its upstream is free again
		upPair.peer = nil
		p.free = append(p.free, pr.peer)
	}
	return gnet.None
}

// OnTraffic passes what was read to the peer, in one write.
func (p *proxy) OnTraffic(c gnet.Conn) gnet.Action {
	pr := c.Context().(*pair)
	buf, _ := c.Next(-1)
	if pr.peer != nil {
		_, _ = pr.peer.Write(buf)
	}
	return gnet.None
}

func main() {
	listen := flag.String("listen", "127.0.0.1:12014", "where clients connect")
	upstream := flag.String("upstream", "127.0.0.1:15000", "the bank (emulator)")
	conns := flag.Int("upstreamConns", 256, "upstream connections dialled at start, one a client")
	flag.Parse()
	up, err := net.ResolveTCPAddr("tcp", *upstream)
	if err != nil {
		fmt.Fprintln(os.Stderr, "floor:", err)
		os.Exit(2)
	}
	p := &proxy{upstream: up, dial: *conns, ready: make(chan error, 1)}
	go func() {
		if err := <-p.ready; err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		fmt.Fprintln(os.Stderr, "floor: relaying", *listen, "to", *upstream)
	}()
	err = gnet.Run(p, "tcp://"+*listen, gnet.WithNumEventLoop(1), gnet.WithReusePort(true), gnet.WithTicker(true),
		gnet.WithTCPNoDelay(gnet.TCPNoDelay), gnet.WithLoadBalancing(gnet.LeastConnections))
	if err != nil {
		fmt.Fprintln(os.Stderr, "floor:", err)
		os.Exit(1)
	}
}

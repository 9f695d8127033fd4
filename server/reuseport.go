package server

import (
	"fmt"
	"net"
	"strings"
)

// With one event loop the listeners are gnet's SO_REUSEPORT kind: the
// loop accepts on its own listener, one accept a ready event, where
// gnet's shared listener is served by a reactor of its own that accepts
// until EAGAIN and hands each connection to the loop through its task
// queue (an eventfd write and another thread woken). Measured for the
// original's clients (a connection a message, 64 at once): 7-10% less
// CPU a message (BENCHMARKS.md). With several loops the shared listener stays, so that
// connections keep going to the loop with the fewest (the kernel would
// spread them by a hash of the addresses instead).
func reusePort(loops int) bool { return loops == 1 }

// exclusive checks that nothing listens on addrs (gnet's "tcp://host:port"),
// by binding each without SO_REUSEPORT: a second gateway started on the
// same port would otherwise share it, each taking some of the clients,
// instead of failing to start. Port 0 is always free. While this runs
// and gnet binds, another process starting on the same port at the same
// moment could pass too; one already listening cannot.
func exclusive(addrs []string) error {
	for _, a := range addrs {
		addr := strings.TrimPrefix(a, "tcp://")
		if _, port, err := net.SplitHostPort(addr); err != nil || strings.TrimLeft(port, "0") == "" {
			continue // port 0, or what gnet will refuse itself
		}
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			return err // "listen tcp host:port: bind: address already in use"
		}
		if err := ln.Close(); err != nil {
			return fmt.Errorf("listen %s: %w", addr, err)
		}
	}
	return nil
}

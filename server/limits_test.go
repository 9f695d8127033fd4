package server

import (
	"net"
	"testing"
)

func TestConnLimits(t *testing.T) {
	l := newConnLimits(3, 2)
	a := &net.TCPAddr{IP: net.IPv4(10, 0, 0, 1), Port: 1}
	b := &net.TCPAddr{IP: net.IPv4(10, 0, 0, 2), Port: 1}
	c := &net.TCPAddr{IP: net.IPv4(10, 0, 0, 3), Port: 1}
	for i, tc := range []struct {
		addr net.Addr
		want string
	}{{a, ""}, {a, ""}, {a, refusedAddrConnections}, {b, ""}, {c, refusedConnections}} {
		if got := l.take(tc.addr); got != tc.want {
			t.Fatalf("take %d from %v: %q, want %q", i, tc.addr, got, tc.want)
		}
	}
	l.release(a)
	if got := l.take(c); got != "" {
		t.Fatalf("after a release: %q", got)
	}
}

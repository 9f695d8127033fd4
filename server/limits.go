package server

import (
	"net"
	"net/netip"
	"sync"
)

// connLimits caps the connections a listener holds, in all and from one
// address, so that no peer can take them all. Safe for concurrent use.
type connLimits struct {
	max, perAddr int // 0: no cap
	mu           sync.Mutex
	total        int
	byAddr       map[netip.Addr]int
}

func newConnLimits(max, perAddr int) *connLimits {
	return &connLimits{max: max, perAddr: perAddr, byAddr: map[netip.Addr]int{}}
}

// take counts a new connection from addr; "" when it may stay, else the
// refusal reason (refusedConnections, refusedAddrConnections).
func (l *connLimits) take(addr net.Addr) string {
	ip := addrIP(addr)
	l.mu.Lock()
	defer l.mu.Unlock()
	switch {
	case l.max > 0 && l.total >= l.max:
		return refusedConnections
	case l.perAddr > 0 && l.byAddr[ip] >= l.perAddr:
		return refusedAddrConnections
	}
	l.total++
	l.byAddr[ip]++
	return ""
}

// release forgets a connection take let in.
func (l *connLimits) release(addr net.Addr) {
	ip := addrIP(addr)
	l.mu.Lock()
	defer l.mu.Unlock()
	l.total--
	if n := l.byAddr[ip] - 1; n > 0 {
		l.byAddr[ip] = n
	} else {
		delete(l.byAddr, ip)
	}
}

func addrIP(a net.Addr) netip.Addr {
	if t, ok := a.(*net.TCPAddr); ok {
		ip, _ := netip.AddrFromSlice(t.IP)
		return ip.Unmap()
	}
	ap, _ := netip.ParseAddrPort(a.String())
	return ap.Addr()
}

// limitedListener closes, at once, the connections its limits refuse,
// and counts them; the others release their place when closed.
type limitedListener struct {
	net.Listener
	limits *connLimits
	refuse func(reason string, peer net.Addr)
}

func (l *limitedListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		if reason := l.limits.take(c.RemoteAddr()); reason != "" {
			c.Close()
			l.refuse(reason, c.RemoteAddr())
			continue
		}
		return &limitedConn{Conn: c, limits: l.limits}, nil
	}
}

type limitedConn struct {
	net.Conn
	limits *connLimits
	once   sync.Once
}

func (c *limitedConn) Close() error {
	c.once.Do(func() { c.limits.release(c.RemoteAddr()) })
	return c.Conn.Close()
}

// handOver gives up the connection's place to whoever now owns the socket
// (a TLS POS client's posConn, once its loop holds it), who releases it.
func (c *limitedConn) handOver() net.Conn {
	c.once.Do(func() {})
	return c.Conn
}

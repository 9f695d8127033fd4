// Package boundaddr reads the address a listening socket is bound to, so
// that a listener asked for port 0 is found where the kernel put it,
// without binding twice (binding a probe, closing it and binding again
// lets another process take the port in between).
package boundaddr

import (
	"fmt"
	"net"
	"syscall"
)

// Of returns the TCP address socket fd is bound to.
func Of(fd int) (*net.TCPAddr, error) {
	sa, err := syscall.Getsockname(fd)
	if err != nil {
		return nil, fmt.Errorf("getsockname: %w", err)
	}
	switch a := sa.(type) {
	case *syscall.SockaddrInet4:
		return &net.TCPAddr{IP: net.IP(a.Addr[:]), Port: a.Port}, nil
	case *syscall.SockaddrInet6:
		return &net.TCPAddr{IP: net.IP(a.Addr[:]), Port: a.Port}, nil
	}
	return nil, fmt.Errorf("getsockname: not a TCP address: %T", sa)
}

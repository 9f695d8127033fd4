// Package testconns checks, for tests, that a server stopping while
// clients connect leaves none of their connections open and unserved.
package testconns

import (
	"errors"
	"net"
	"os"
	"sync"
	"testing"
	"time"
)

// LeftOpen connects to addr from four goroutines without a pause, calls
// stop once 50 connections are made, and reports how many of all the
// connections made were left open once stop returned (a byte written on
// each is answered by neither EOF nor a reset), and how many were made.
// A connection still in the kernel's handshake when the listener went
// is reset by that byte, not by the close, so the byte is written.
func LeftOpen(t testing.TB, addr string, stop func()) (open, made int) {
	t.Helper()
	conns := make(chan net.Conn, 1<<16)
	done := make(chan struct{})
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for {
				select {
				case <-done:
					return
				default:
				}
				if c, err := net.Dial("tcp", addr); err == nil {
					conns <- c
				}
			}
		})
	}
	var got []net.Conn
	for len(got) < 50 {
		got = append(got, <-conns)
	}
	stop()
	close(done)
	wg.Wait()
	close(conns)
	for c := range conns {
		got = append(got, c)
	}
	// One deadline for all: a bound on a failure, not a wait.
	deadline := time.Now().Add(2 * time.Second)
	for _, c := range got {
		_, _ = c.Write([]byte("x"))
		_ = c.SetReadDeadline(deadline)
	}
	buf := make([]byte, 1)
	for _, c := range got {
		if _, err := c.Read(buf); errors.Is(err, os.ErrDeadlineExceeded) {
			open++
		}
		c.Close()
	}
	return open, len(got)
}

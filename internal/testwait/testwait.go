// Package testwait holds what tests across the project need to wait on a
// condition instead of sleeping, and to find a free port on loopback.
package testwait

import (
	"net"
	"sync"
	"testing"
	"time"
)

// For polls cond until it holds, failing t after 30 s; what says what
// was awaited.
func For(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("never: %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// FreePort asks the kernel for a port on 127.0.0.1 nobody uses right
// now, and never the same one twice in a test binary: a port just closed
// may come straight back from the kernel, and two calls in a row would
// then name one port for two listeners.
func FreePort(t testing.TB) int {
	t.Helper()
	given.Lock()
	defer given.Unlock()
	for {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := ln.Addr().(*net.TCPAddr).Port
		ln.Close()
		if !given.ports[port] {
			given.ports[port] = true
			return port
		}
	}
}

var given = struct {
	sync.Mutex
	ports map[int]bool
}{ports: map[int]bool{}}

package logging

import (
	"bufio"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	json "github.com/goccy/go-json"
)

// TestLogStash: lines logged before LogStash is there are kept and sent
// once it is; its loss is reported once, its return once; with it away
// logging never blocks, and lines past the bound are dropped and counted.
func TestLogStash(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // not there yet
	var mu sync.Mutex
	var states []bool
	changed := make(chan struct{}, 16)
	ls := NewLogStash(addr, "gw-1", func(up bool, err error) {
		mu.Lock()
		states = append(states, up)
		mu.Unlock()
		changed <- struct{}{}
	})
	ls.retry = 20 * time.Millisecond
	defer ls.Close()
	l := New(Options{Level: 1, Silent: true, LogStash: ls})
	l.Info().Str("peer", "127.0.0.1:1").Msg("before")
	<-changed // told it is unreachable
	l.Info().Msg("meanwhile")

	ln, err = net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	c, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	r := bufio.NewReader(c)
	for _, want := range []string{"before", "meanwhile"} {
		line, err := r.ReadString('\n')
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil || m["message"] != want || m["node"] != "gw-1" || m["level"] != "info" {
			t.Fatalf("%q: %v; want %q", line, err, want)
		}
	}
	<-changed // told it is back
	mu.Lock()
	if len(states) != 2 || states[0] || !states[1] {
		t.Errorf("state changes %v, want one loss then one return", states)
	}
	mu.Unlock()
	if ls.Dropped() != 0 {
		t.Errorf("%d dropped while the queue had room", ls.Dropped())
	}

	// LogStash goes away for good: logging never blocks, and lines past
	// the bound are counted as dropped.
	c.Close()
	ln.Close()
	for i := range 3 * logStashQueue {
		l.Info().Int("i", i).Msg(strings.Repeat("x", 10))
	}
	if ls.Dropped() == 0 {
		t.Fatal("nothing dropped past the bound with LogStash away")
	}
}

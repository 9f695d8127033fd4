package logging

import (
	"bufio"
	"net"
	"strings"
	"testing"

	json "github.com/goccy/go-json"
)

func TestLogStash(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ls := NewLogStash(ln.Addr().String(), "gw-1")
	defer ls.Close()
	l := New(Options{Level: 1, Silent: true, LogStash: ls})
	l.Info().Str("peer", "127.0.0.1:1").Msg("hello")
	c, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(line), &m); err != nil || m["message"] != "hello" || m["node"] != "gw-1" || m["level"] != "info" {
		t.Fatalf("%q: %v", line, err)
	}
	// LogStash goes away: logging never blocks, and lines are counted as
	// dropped.
	c.Close()
	ln.Close()
	for i := range 3 * logStashQueue {
		l.Info().Int("i", i).Msg(strings.Repeat("x", 10))
	}
	if ls.Dropped() == 0 {
		t.Fatal("nothing dropped with LogStash away")
	}
}

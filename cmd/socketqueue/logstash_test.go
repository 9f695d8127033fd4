package main

import (
	"bufio"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	json "github.com/goccy/go-json"

	"github.com/socketqueue/socketqueue-go/isocodec"
)

// TestLogStash: a LogStash listener gets the gateway's lines as JSON with
// the node name, also those logged before it was there (the start line);
// its absence is said once and its return once; with LogStash gone,
// purchases go through as before.
func TestLogStash(t *testing.T) {
	lsPort, admin := strconv.Itoa(freePort(t)), strconv.Itoa(freePort(t))
	bankPort, posPort := strconv.Itoa(freePort(t)), strconv.Itoa(freePort(t))
	p := start(t, "LogStash unreachable", "--v", "--dataDir="+t.TempDir(), "--echoServerPort="+bankPort, "--upstreamHost=127.0.0.1",
		"--upstreamPort="+bankPort, "--listenPort="+posPort, "--adminPort="+admin, "--logstashHost=127.0.0.1", "--logstashPort="+lsPort, "--logstashNode=gw-7")
	waitLine(t, p, "gateway listening")
	ln, err := net.Listen("tcp", "127.0.0.1:"+lsPort)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	ln.(*net.TCPListener).SetDeadline(time.Now().Add(20 * time.Second))
	c, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	r := bufio.NewReader(c)
	line, err := r.ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	for !strings.Contains(line, "gateway listening") {
		if line, err = r.ReadString('\n'); err != nil {
			t.Fatalf("the start line, logged before LogStash was there, never came: %v", err)
		}
	}
	waitLine(t, p, "LogStash reachable")
	if lost := p.grep("LogStash unreachable"); len(lost) != 1 {
		t.Errorf("the absence said %d times, want once: %q", len(lost), lost)
	}
	if d := metric(t, admin, "socketqueue_log_dropped_total"); d != 0 {
		t.Errorf("socketqueue_log_dropped_total %v, want 0 (the queue had room)", d)
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(line), &m); err != nil || m["node"] != "gw-7" || m["message"] == nil {
		t.Fatalf("%q: %v", line, err)
	}
	c.Close()
	ln.Close()
	for i := 1; i <= 20; i++ {
		reply, err := bare("127.0.0.1:"+posPort, purchaseMsg(t, i))
		if err != nil {
			t.Fatal(err)
		}
		if f, err := isocodec.SmartVista.Unpack(reply); err != nil || f[39] != "000" {
			t.Fatalf("purchase %d with LogStash gone: %v %v", i, f, err)
		}
	}
	if code := p.stop(t); code != 0 {
		t.Fatalf("exit %d", code)
	}
}

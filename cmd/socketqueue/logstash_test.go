package main

import (
	"bufio"
	"net"
	"strconv"
	"testing"
	"time"

	json "github.com/goccy/go-json"

	"github.com/socketqueue/socketqueue-go/isocodec"
)

// TestLogStash: a LogStash listener gets the gateway's lines as JSON with
// the node name; with LogStash gone, purchases go through as before.
func TestLogStash(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	lsPort := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
	bankPort, posPort := strconv.Itoa(freePort(t)), strconv.Itoa(freePort(t))
	p := start(t, "bank link up", "--v", "--dataDir="+t.TempDir(), "--echoServerPort="+bankPort, "--upstreamHost=127.0.0.1",
		"--upstreamPort="+bankPort, "--listenPort="+posPort, "--logstashHost=127.0.0.1", "--logstashPort="+lsPort, "--logstashNode=gw-7")
	ln.(*net.TCPListener).SetDeadline(time.Now().Add(10 * time.Second))
	c, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		t.Fatal(err)
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

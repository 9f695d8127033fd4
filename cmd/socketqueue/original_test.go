package main

import (
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestOriginalConfiguration: a config file written from the original's
// config.json.dist (its "c" key, empty strings, a list for
// queueMessageKeyFields, headerFormat length:b:2) and its command line
// (--smartVista, a bare --useHeader, its --overrides samples) start the
// gateway, and the frame it sends is the original's, byte for byte: the
// length as packed digits, not counting anything else; the bitmap as hex
// text (1:bitmap-hex:8); track 2 with an ASCII length (35:ll-an:37).
func TestOriginalConfiguration(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	frames := make(chan []byte, 4)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				buf := make([]byte, 4096)
				c.SetReadDeadline(time.Now().Add(20 * time.Second))
				n, _ := io.ReadAtLeast(c, buf, 2)
				frames <- buf[:n]
			}()
		}
	}()
	httpPort := strconv.Itoa(freePort(t))
	dir := t.TempDir()
	cfg := `{
	"upstreamHost": "127.0.0.1",
	"upstreamPort": ` + strconv.Itoa(ln.Addr().(*net.TCPAddr).Port) + `,
	"listenHttpPort": ` + httpPort + `,
	"maxQueue": 100,
	"queueTimeout": 2,
	"queueShortTimeout": 5,
	"queueMessageKeyFields": [11, 41],
	"noAutoReversal": false,
	"logFile": "",
	"pidFile": "",
	"logstashHost": "",
	"logstashNode": "SocketQueue",
	"statDumpFile": "",
	"c": "",
	"v": true,
	"vv": false,
	"dangerous": false,
	"useHeader": true,
	"headerFormat": "length:b:2",
	"silent": false,
	"help": false,
	"helpJson": false
}`
	path := filepath.Join(dir, "config.json")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	start(t, "bank link up", "-c", path, "--smartVista", "--useHeader", "--dataDir="+dir, "--overrides=1:bitmap-hex:8,35:ll-an:37")

	f12 := time.Now().Format("060102150405")
	body := `{"0": "0200", "3": "0", "4": 1000, "7": "0818160933", "11": 618160, "12": "` + f12 +
		`", "22": "056", "24": "200", "25": "00", "35": "4850781234567891=19082012232800000037", "41": 992468, "42": 124642124643, "49": "810"}`
	go func() {
		if resp, err := http.Post("http://127.0.0.1:"+httpPort, "application/json", strings.NewReader(body)); err == nil {
			resp.Body.Close()
		}
	}()
	var frame []byte
	select {
	case frame = <-frames:
	case <-time.After(20 * time.Second):
		t.Fatal("no frame at the bank")
	}
	// As the original writes it: 139 bytes as 01 39, the bitmap in
	// lower-case hex, 35 with two ASCII digits of length.
	want := "\x01\x39" + "0200" + "3230058020c08000" + "000000" + "000000001000" + "0818160933" + "618160" + f12 +
		"056" + "200" + "00" + "37" + "4850781234567891=19082012232800000037" + "00992468" + "000124642124643" + "810"
	if string(frame) != want {
		t.Fatalf("frame\n%x\nwant\n%x", frame, want)
	}
}

package main

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/socketqueue/socketqueue-go/isocodec"
)

// TestLogsCarryNoCardData: a --vv run with a log file, purchases through
// HTTP and the binary port (PAN, track 2, PIN block, EMV track 2 and PAN
// tags), a decline and a reversal; no log line holds the card data.
func TestLogsCarryNoCardData(t *testing.T) {
	dir := t.TempDir()
	bankPort, posPort, httpPort := strconv.Itoa(freePort(t)), strconv.Itoa(freePort(t)), strconv.Itoa(freePort(t))
	logFile := filepath.Join(dir, "gw.log")
	p := start(t, "bank link up", "--vv", "--dataDir="+dir, "--echoServerPort="+bankPort, "--upstreamHost=127.0.0.1",
		"--upstreamPort="+bankPort, "--listenPort="+posPort, "--listenHttpPort="+httpPort, "--logFile="+logFile,
		"--logFormat=json", "--bankMuteEvery=3", "--queueTimeout=1")
	const pan, track2Tail, pin = "4850781234567891", "19082012232800000037", "0123456789abcdef"
	emv := "5a08" + pan + "57" + "11" + pan + "d1908201223280000f" // EMV PAN and track 2 equivalent
	for i := 1; i <= 3; i++ {
		body := `{"0":"0200","3":"0","4":1000,"7":"0818160933","11":` + strconv.Itoa(i) + `,"12":"` + time.Now().Format("060102150405") +
			`","22":"051","24":"200","25":"00","35":"` + pan + "=" + track2Tail + `","41":1,"42":1,"49":"810","52":"` + pin + `","55":"` + emv + `"}`
		resp, err := http.Post("http://127.0.0.1:"+httpPort, "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	bare("127.0.0.1:"+posPort, purchaseMsg(t, 9))

	// Bad and unparsable messages, each carrying the card data: garbage
	// with a track 2 in text; purchases whose field 35 or 55 length is
	// spoilt (what follows is bytes nobody can read), to the gateway and
	// to the emulator directly; a frame header that is not one.
	good := cardPurchase(t, 21, pan, track2Tail, pin, emv)
	spoil := func(at int) []byte {
		b := append([]byte(nil), good...)
		copy(b[at:], "9X")
		return b
	}
	at35 := bytes.Index(good, []byte(pan+"=")) - 2
	at55 := len(good) - len(emv)/2 - 3
	for _, b := range [][]byte{[]byte("GARBAGE " + pan + "=" + track2Tail + " \x01\x02"), spoil(at35), spoil(at55)} {
		bare("127.0.0.1:"+posPort, b)
	}
	for _, b := range [][]byte{spoil(at35), spoil(at55)} {
		c, err := net.Dial("tcp", "127.0.0.1:"+bankPort)
		if err != nil {
			t.Fatal(err)
		}
		c.SetDeadline(time.Now().Add(10 * time.Second))
		c.Write(append([]byte(fmt.Sprintf("%04d", len(b))), b...))
		io.Copy(io.Discard, c) // the emulator closes on a message it cannot read
		c.Close()
	}
	if c, err := net.Dial("tcp", "127.0.0.1:"+bankPort); err == nil {
		c.SetDeadline(time.Now().Add(10 * time.Second))
		c.Write([]byte("XXXX" + pan + "=" + track2Tail))
		io.Copy(io.Discard, c)
		c.Close()
	}
	waitFor(t, "a reversal in the log", func() bool {
		b, _ := os.ReadFile(logFile)
		return strings.Contains(string(b), "reversal approved")
	})
	p.stop(t)
	logs, _ := os.ReadFile(logFile)
	all := string(logs) // the file gets every line the console does
	if !strings.Contains(all, "485078******7891") {
		t.Fatal("the dumps are not in the logs; nothing was checked")
	}
	for _, want := range []string{"not ISO-8583", "bank: bad frame", "bank: not a message"} {
		if !strings.Contains(all, want) {
			t.Errorf("no %q line: the bad messages were not logged, so not checked", want)
		}
	}
	ascii := func(s string) string { return hex.EncodeToString([]byte(s)) }
	for _, secret := range []string{pan, ascii(pan), pan[6:12], ascii(pan[6:12]), track2Tail, ascii(track2Tail), ascii(track2Tail[:8]),
		strings.ToUpper(pin), pin, "d1908201223280000f", "1908201223"} {
		if strings.Contains(all, secret) {
			i := strings.Index(all, secret)
			t.Errorf("card data %q in the logs: ...%s...", secret, all[max(0, i-80):min(len(all), i+40)])
		}
	}
}

// cardPurchase is a purchase with card data in every field that holds it.
func cardPurchase(t *testing.T, stan int, pan, track2Tail, pin, emv string) []byte {
	t.Helper()
	msg, err := isocodec.SmartVista.Pack(isocodec.Fields{
		0: "0200", 3: "000000", 4: "000000000100", 7: "1125120000", 11: fmt.Sprintf("%06d", stan),
		12: time.Now().Format("060102150405"), 22: "051", 24: "200", 25: "00", 35: pan + "=" + track2Tail,
		41: "00000021", 42: "000124642124643", 49: "810", 52: pin, 55: emv,
	})
	if err != nil {
		t.Fatal(err)
	}
	return msg
}

// TestBankBadFrameLogIsMasked: a bank whose reply is followed, in one
// read, by bytes that are no frame: the gateway logs the bytes around the
// break and resets the link, and the log holds none of the card data of
// either (the reply carries the request's EMV data).
func TestBankBadFrameLogIsMasked(t *testing.T) {
	const pan, track2Tail, pin = "4000009876543210", "2912201135792468", "a1b2c3d4e5f60718"
	emv := "5a08" + pan + "5711" + pan + "d" + track2Tail + "f"
	jd := startJudge(t, 0)
	jd.trailer = append([]byte("00x1"+pan+"="+track2Tail), cardPurchase(t, 1, pan, track2Tail, pin, emv)...)
	dir := t.TempDir()
	logFile := filepath.Join(dir, "gw.log")
	posPort := strconv.Itoa(freePort(t))
	p := start(t, "bank link up", "--v", "--dataDir="+dir, "--upstreamHost=127.0.0.1", "--upstreamPort="+jd.port(),
		"--listenPort="+posPort, "--logFile="+logFile, "--upstreamRetry=0.1")
	bare("127.0.0.1:"+posPort, cardPurchase(t, 1, pan, track2Tail, pin, emv))
	waitFor(t, "the bad frame logged", func() bool {
		b, _ := os.ReadFile(logFile)
		return strings.Contains(string(b), "bad frame")
	})
	p.stop(t)
	logs, _ := os.ReadFile(logFile)
	line := string(logs)[strings.Index(string(logs), "bad frame")-200:]
	if !strings.Contains(line, "*") {
		t.Fatalf("the bad-frame line shows no masked bytes: %s", line)
	}
	ascii := func(s string) string { return hex.EncodeToString([]byte(s)) }
	for _, secret := range []string{pan[6:12], ascii(pan[6:12]), track2Tail[:8], ascii(track2Tail[:8]), pin, strings.ToUpper(pin)} {
		if i := strings.Index(string(logs), secret); i >= 0 {
			t.Errorf("card data %q in the log: ...%s...", secret, logs[max(0, i-80):min(len(logs), i+40)])
		}
	}
}

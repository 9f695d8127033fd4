package main

import (
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
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
	for _, secret := range []string{pan, track2Tail, strings.ToUpper(pin), pin, "d1908201223280000f"} {
		if strings.Contains(all, secret) {
			i := strings.Index(all, secret)
			t.Errorf("card data %q in the logs: ...%s...", secret, all[max(0, i-80):min(len(all), i+40)])
		}
	}
}

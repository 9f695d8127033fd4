package main

import (
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	json "github.com/goccy/go-json"

	"github.com/socketqueue/socketqueue-go/bank"
	"github.com/socketqueue/socketqueue-go/internal/testwait"
	"github.com/socketqueue/socketqueue-go/isocodec"
	"github.com/socketqueue/socketqueue-go/journal"
)

// bankTotals reads GET /bank of an emulator process.
func bankTotals(t *testing.T, httpPort string) bank.Totals {
	t.Helper()
	return bankSnapshot(t, httpPort, 0).Totals
}

// bankSnapshot reads GET /bank with up to limit transactions (-1: all).
func bankSnapshot(t *testing.T, httpPort string, limit int) bank.Snapshot {
	t.Helper()
	resp, err := http.Get("http://127.0.0.1:" + httpPort + "/bank?limit=" + strconv.Itoa(limit))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var snap bank.Snapshot
	if err := json.NewDecoder(resp.Body).Decode(&snap); err != nil {
		t.Fatal(err)
	}
	return snap
}

// waitFor and freePort: see testwait.
var (
	waitFor  = testwait.For
	freePort = testwait.FreePort
)

func purchaseMsg(t *testing.T, i int) []byte {
	tid := strconv.Itoa(i)
	stan := "000000"[len(tid):] + tid
	tid = "00000000"[len(tid):] + tid
	msg, err := isocodec.SmartVista.Pack(isocodec.Fields{
		0: "0200", 3: "000000", 4: "000000000100", 7: "1125120000", 11: stan, 12: time.Now().Format("060102150405"),
		22: "051", 24: "200", 25: "00", 35: "4850781234567891=19082012232800000037", 41: tid,
		42: "000124642124643", 49: "810",
	})
	if err != nil {
		t.Fatal(err)
	}
	return msg
}

// bare sends one bare message and reads until the gateway closes.
func bare(addr string, msg []byte) ([]byte, error) {
	return bareVia(func(addr string) (net.Conn, error) { return net.Dial("tcp", addr) }, addr, msg)
}

// bareVia is bare over what dial connects.
func bareVia(dial func(addr string) (net.Conn, error), addr string, msg []byte) ([]byte, error) {
	c, err := dial(addr)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(60 * time.Second))
	if _, err := c.Write(msg); err != nil {
		return nil, err
	}
	var out []byte
	buf := make([]byte, 4096)
	for {
		n, err := c.Read(buf)
		out = append(out, buf[:n]...)
		if err != nil {
			return out, nil
		}
	}
}

func journalPending(t *testing.T, dir string) []journal.Entry {
	t.Helper()
	j, err := journal.Open(filepath.Join(dir, "journal"))
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	pend, err := j.Pending()
	if err != nil {
		t.Fatal(err)
	}
	return pend
}

// TestKillNineReversesInFlight: 50 purchases at the bank, unanswered;
// the gateway is killed with SIGKILL; the next gateway reverses all 50,
// each once.
func TestKillNineReversesInFlight(t *testing.T) {
	bankPort, bankHTTP, posPort := strconv.Itoa(freePort(t)), strconv.Itoa(freePort(t)), strconv.Itoa(freePort(t))
	data := t.TempDir()
	bk := start(t, "bank ledger at GET /bank", "--v", "--echoServerPort="+bankPort, "--bankHttpPort="+bankHTTP, "--bankMuteEvery=1")
	gwArgs := []string{"--v", "--upstreamHost=127.0.0.1", "--upstreamPort=" + bankPort, "--listenPort=" + posPort,
		"--dataDir=" + data, "--queueTimeout=60"}
	gw := start(t, "bank link up", gwArgs...)

	var wg sync.WaitGroup
	for i := 1; i <= 50; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			bare("127.0.0.1:"+posPort, purchaseMsg(t, i))
		}()
	}
	waitFor(t, "50 purchases at the bank", func() bool { return bankTotals(t, bankHTTP).Approved == 50 })
	gw.cmd.Process.Kill()
	wg.Wait()
	if tot := bankTotals(t, bankHTTP); tot.Reversals != 0 {
		t.Fatalf("reversed before the restart: %+v", tot)
	}

	gw2 := start(t, "bank link up", gwArgs...)
	waitFor(t, "50 reversals at the bank", func() bool { return bankTotals(t, bankHTTP).Reversals == 50 })
	if code := gw2.stop(t); code != 0 {
		t.Fatalf("exit %d", code)
	}
	tot := bankTotals(t, bankHTTP)
	if tot.Reversals != 50 || tot.RepeatedReversals != 0 || tot.ReversalsNotFound != 0 || tot.Approved != 50 {
		t.Fatalf("bank %+v", tot)
	}
	if pend := journalPending(t, data); len(pend) != 0 {
		t.Fatalf("%d records left in the journal", len(pend))
	}
	bk.stop(t)
}

// TestSIGTERMDeliversInFlight: SIGTERM while 20 purchases wait for the
// bank: every client gets its reply, the gateway exits 0, and nothing is
// left in the journal.
func TestSIGTERMDeliversInFlight(t *testing.T) {
	bankPort, bankHTTP, posPort := strconv.Itoa(freePort(t)), strconv.Itoa(freePort(t)), strconv.Itoa(freePort(t))
	data := t.TempDir()
	start(t, "bank ledger at GET /bank", "--v", "--echoServerPort="+bankPort, "--bankHttpPort="+bankHTTP, "--bankDelay=0.5")
	gw := start(t, "bank link up", "--v", "--upstreamHost=127.0.0.1", "--upstreamPort="+bankPort,
		"--listenPort="+posPort, "--dataDir="+data)
	var wg sync.WaitGroup
	replies := make(chan isocodec.Fields, 20)
	for i := 1; i <= 20; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, _ := bare("127.0.0.1:"+posPort, purchaseMsg(t, i))
			f, _ := isocodec.SmartVista.Unpack(r)
			replies <- f
		}()
	}
	waitFor(t, "20 purchases at the bank", func() bool { return bankTotals(t, bankHTTP).Approved == 20 })
	if code := gw.stop(t); code != 0 {
		t.Fatalf("exit %d", code)
	}
	wg.Wait()
	close(replies)
	n := 0
	for f := range replies {
		if f[0] != "0210" || f[39] != "000" {
			t.Errorf("reply %v", f)
		}
		n++
	}
	if n != 20 {
		t.Fatalf("%d replies", n)
	}
	if pend := journalPending(t, data); len(pend) != 0 {
		t.Fatalf("%d records left in the journal", len(pend))
	}
	if tot := bankTotals(t, bankHTTP); tot.Reversals != 0 {
		t.Fatalf("answered purchases reversed: %+v", tot)
	}
}

// TestRefusesOldJournal: a data directory holding the journal of an
// earlier version (journal.db) is refused at start, with what to do,
// rather than its open purchases silently forgotten.
func TestRefusesOldJournal(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "journal.db"), []byte("old journal"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, stderr, code := runBinary(t, "--upstreamHost=127.0.0.1", "--upstreamPort="+strconv.Itoa(freePort(t)),
		"--listenPort="+strconv.Itoa(freePort(t)), "--listenHttpPort="+strconv.Itoa(freePort(t)), "--dataDir="+dir)
	if code != 1 || !strings.Contains(stderr, "journal.db is the journal of an earlier version") {
		t.Fatalf("exit %d, stderr:\n%s", code, stderr)
	}
}

// TestDamagedJournalRefusedThenSkipped: 20 purchases open at kill -9,
// then one byte of the journal's first purchase record flipped. The
// gateway refuses to start, naming the file and the offset, and leaves
// the journal as it is; with --journalRecover=skip it starts, reverses
// the 19 intact purchases, each once, and logs what it skipped.
func TestDamagedJournalRefusedThenSkipped(t *testing.T) {
	bankPort, bankHTTP, posPort := strconv.Itoa(freePort(t)), strconv.Itoa(freePort(t)), strconv.Itoa(freePort(t))
	data := t.TempDir()
	start(t, "bank ledger at GET /bank", "--v", "--echoServerPort="+bankPort, "--bankHttpPort="+bankHTTP, "--bankMuteEvery=1")
	gwArgs := []string{"--v", "--upstreamHost=127.0.0.1", "--upstreamPort=" + bankPort, "--listenPort=" + posPort,
		"--dataDir=" + data, "--queueTimeout=60"}
	gw := start(t, "bank link up", gwArgs...)
	var wg sync.WaitGroup
	for i := 1; i <= 20; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			bare("127.0.0.1:"+posPort, purchaseMsg(t, i))
		}()
		// One at a time, so that each is a record of its own.
		waitFor(t, "the purchase at the bank", func() bool { return bankTotals(t, bankHTTP).Approved == int64(i) })
	}
	gw.cmd.Process.Kill()
	wg.Wait()

	segs, _ := filepath.Glob(filepath.Join(data, "journal", "*.wal"))
	if len(segs) != 1 {
		t.Fatalf("segments %v", segs)
	}
	seg, err := os.ReadFile(segs[0])
	if err != nil {
		t.Fatal(err)
	}
	first := 8 + int(seg[4])<<24 | int(seg[5])<<16 | int(seg[6])<<8 | int(seg[7]) // past the header record
	first += 8
	seg[first+8+5] ^= 1
	if err := os.WriteFile(segs[0], seg, 0o600); err != nil {
		t.Fatal(err)
	}

	_, stderr, code := runBinary(t, gwArgs...)
	if code == 0 || !strings.Contains(stderr, segs[0]) || !strings.Contains(stderr, "offset "+strconv.Itoa(first)) ||
		!strings.Contains(stderr, "--journalRecover=skip") {
		t.Fatalf("exit %d, stderr:\n%s", code, stderr)
	}
	if after, _ := os.ReadFile(segs[0]); string(after) != string(seg) {
		t.Fatal("the refused start changed the damaged segment")
	}

	logFile := filepath.Join(t.TempDir(), "gw.log")
	gw2 := start(t, "bank link up", append(gwArgs, "--journalRecover=skip", "--logFile="+logFile)...)
	waitFor(t, "19 reversals at the bank", func() bool { return bankTotals(t, bankHTTP).Reversals == 19 })
	if logs, _ := os.ReadFile(logFile); !strings.Contains(string(logs), "journal damage skipped") ||
		!strings.Contains(string(logs), "offset="+strconv.Itoa(first)) {
		t.Errorf("the skipped damage is not in the log:\n%s", logs)
	}
	if code := gw2.stop(t); code != 0 {
		t.Fatalf("exit %d", code)
	}
	if tot := bankTotals(t, bankHTTP); tot.Reversals != 19 || tot.RepeatedReversals != 0 {
		t.Fatalf("bank %+v", tot)
	}
	if _, err := os.Stat(segs[0] + ".damaged"); err != nil {
		t.Fatalf("the damaged segment was not kept: %v", err)
	}
}

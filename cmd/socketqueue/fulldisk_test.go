package main

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/socketqueue/socketqueue-go/internal/testdisk"
	"github.com/socketqueue/socketqueue-go/isocodec"
)

// waitLine reads p's log until a line holds want.
func waitLine(t *testing.T, p *proc, want string) string {
	t.Helper()
	deadline := time.After(30 * time.Second)
	for {
		select {
		case line, ok := <-p.lines:
			if !ok {
				t.Fatalf("exited before logging %q", want)
			}
			if strings.Contains(line, want) {
				return line
			}
		case <-deadline:
			t.Fatalf("no %q in the log within 30 s", want)
		}
	}
}

// TestJournalDiskFillsMidTraffic: the journal's disk fills while 20
// purchases are at a slow bank. The bank approves them and their clients
// get 000; new purchases are refused and never reach the bank. The
// gateway is stopped while the disk is still full, room is made, and it
// starts again: not one of the 20 is reversed.
func TestJournalDiskFillsMidTraffic(t *testing.T) {
	disk := testdisk.Small(t, 2<<20)
	jd := startJudge(t, 500*time.Millisecond)
	posPort := strconv.Itoa(freePort(t))
	args := []string{"--v", "--upstreamHost=127.0.0.1", "--upstreamPort=" + jd.port(), "--listenPort=" + posPort,
		"--dataDir=" + disk, "--journalSync=os", "--queueTimeout=10"}
	gw := start(t, "bank link up", args...)

	var wg sync.WaitGroup
	approved := make([]bool, 21)
	for i := 1; i <= 20; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			reply, _ := bare("127.0.0.1:"+posPort, purchaseFor(t, i, fmt.Sprintf("%08d", i)))
			if f, err := isocodec.SmartVista.Unpack(reply); err == nil && f[39] == "000" {
				approved[i] = true
			}
		}()
	}
	waitFor(t, "20 purchases at the bank", func() bool { return jd.total("0200") == 20 })
	filler := testdisk.Fill(t, disk)
	// What is left of the journal's last page takes a few more; the one
	// after is refused, before the bank.
	var mu sync.Mutex
	refused := map[int]bool{}
	for i := 21; ; i++ {
		if i == 200 {
			t.Fatal("the journal never filled")
		}
		before := jd.total("0200")
		wg.Add(1)
		go func() {
			defer wg.Done()
			reply, _ := bare("127.0.0.1:"+posPort, purchaseFor(t, i, fmt.Sprintf("%08d", i)))
			f, err := isocodec.SmartVista.Unpack(reply)
			mu.Lock()
			defer mu.Unlock()
			if len(reply) == 0 {
				refused[i] = true
			} else if err != nil || f[39] != "000" {
				t.Errorf("purchase %d: %x", i, reply)
			}
		}()
		waitFor(t, "the purchase sent or refused", func() bool {
			mu.Lock()
			defer mu.Unlock()
			return jd.total("0200") > before || refused[i]
		})
		mu.Lock()
		done := refused[i]
		mu.Unlock()
		if done {
			break
		}
	}
	wg.Wait()
	sent := jd.count("0200")
	for i := 1; i <= 20; i++ {
		if !approved[i] {
			t.Fatalf("purchase %d not approved to its client", i)
		}
	}
	waitLine(t, gw, "the journal cannot write")
	for i := range refused {
		if sent[fmt.Sprintf("%08d/%06d", i, i)] != 0 {
			t.Fatalf("purchase %d was refused to its client but reached the bank", i)
		}
	}
	t.Logf("%d purchases at the bank, all approved to their clients; %d refused", len(sent), len(refused))
	gw.stop(t)
	os.Remove(filler)

	gw2 := start(t, "bank link up", args...)
	// Something the restart does after recovery, to wait on: an echo
	// through the link (0800 in, 0810 out) proves it runs.
	if reply, err := bare("127.0.0.1:"+posPort, purchaseFor(t, 100, "00000100")); err != nil || len(reply) == 0 {
		t.Fatalf("the restarted gateway does not serve: %v", err)
	}
	if n := jd.total("0400"); n != 0 {
		t.Fatalf("%d purchases approved to their clients were reversed after the restart", n)
	}
	if code := gw2.stop(t); code != 0 {
		t.Fatalf("exit %d", code)
	}
	if n := jd.total("0400") + jd.total("0401"); n != 0 {
		t.Fatalf("%d reversals", n)
	}
}

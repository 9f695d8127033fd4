package main

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/socketqueue/socketqueue-go/isocodec"
)

func purchaseFor(t *testing.T, stan int, tid string) []byte {
	t.Helper()
	msg, err := isocodec.SmartVista.Pack(isocodec.Fields{
		0: "0200", 3: "000000", 4: "000000000100", 7: "1125120000", 11: fmt.Sprintf("%06d", stan),
		12: time.Now().Format("060102150405"), 22: "051", 24: "200", 25: "00",
		35: "4850781234567891=19082012232800000037", 41: tid, 42: "000124642124643", 49: "810",
	})
	if err != nil {
		t.Fatal(err)
	}
	return msg
}

// sendPurchases sends n purchases (STAN from+1..from+n, over tids terminals) from
// clients at once, bare (a connection each) or framed and pipelined (a
// connection per client, all its purchases written before any reply is
// read). It returns, by TID/STAN, whether the client got an approval.
// dial connects (net.Dial when nil; a TLS dialer for a TLS port).
func sendPurchases(t *testing.T, posAddr string, from, n, clients, tids int, framed bool, dial func(addr string) (net.Conn, error)) map[string]bool {
	t.Helper()
	if dial == nil {
		dial = func(addr string) (net.Conn, error) { return net.Dial("tcp", addr) }
	}
	var mu sync.Mutex
	got := map[string]bool{}
	key := func(stan int) string { return fmt.Sprintf("%08d/%06d", stan%tids+1, stan) }
	record := func(reply []byte) {
		f, err := isocodec.SmartVista.Unpack(reply)
		if err != nil {
			t.Errorf("reply does not unpack: %v", err)
			return
		}
		mu.Lock()
		got[f[41]+"/"+f[11]] = f[39] == "000"
		mu.Unlock()
	}
	var wg sync.WaitGroup
	for c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var mine []int
			for stan := from + c + 1; stan <= from+n; stan += clients {
				mine = append(mine, stan)
				mu.Lock()
				got[key(stan)] = false
				mu.Unlock()
			}
			if !framed {
				for _, stan := range mine {
					reply, _ := bareVia(dial, posAddr, purchaseFor(t, stan, fmt.Sprintf("%08d", stan%tids+1)))
					if len(reply) > 0 {
						record(reply)
					}
				}
				return
			}
			conn, err := dial(posAddr)
			if err != nil {
				t.Error(err)
				return
			}
			defer conn.Close()
			conn.SetDeadline(time.Now().Add(60 * time.Second))
			var out []byte
			for _, stan := range mine {
				msg := purchaseFor(t, stan, fmt.Sprintf("%08d", stan%tids+1))
				out = append(append(out, fmt.Sprintf("%04d", len(msg))...), msg...)
			}
			if _, err := conn.Write(out); err != nil {
				t.Error(err)
				return
			}
			r := bufio.NewReader(conn)
			for range mine {
				var head [4]byte
				if _, err := io.ReadFull(r, head[:]); err != nil {
					t.Errorf("framed client: %v", err)
					return
				}
				l, _ := strconv.Atoi(string(head[:]))
				reply := make([]byte, l)
				if _, err := io.ReadFull(r, reply); err != nil {
					t.Errorf("framed client: %v", err)
					return
				}
				record(reply)
			}
		}()
	}
	wg.Wait()
	return got
}

// TestSlowBankReversesOnce: a bank that answers about when the queue
// timeout runs out. Every purchase that reached it and was not approved
// to its client is reversed with exactly one 0400, none is repeated,
// and none is reversed that the client saw approved: each reversal's
// try is timed from when it is written, not while it waits behind its
// terminal. (The same shape as a 3 s bank with --queueTimeout=3 and the
// default 5 s for the gateway's own messages, at a tenth of the time.)
func TestSlowBankReversesOnce(t *testing.T) {
	for _, tc := range []struct {
		name   string
		delay  time.Duration
		framed bool
		// terminals the 500 purchases of 50 clients share: bare, one a
		// client (a reversal queues behind its client's next purchase);
		// framed, each client's pipeline holds five terminals twice.
		tids int
	}{
		{"bare", 300 * time.Millisecond, false, 50},
		{"framed pipelined", 290 * time.Millisecond, true, 250},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// SOCKETQUEUE_TEST_SCALE=10 runs it at the real scale (a 3 s
			// bank), for a person to watch; the test suite runs it at 1.
			scale := 1.0
			if v, err := strconv.ParseFloat(os.Getenv("SOCKETQUEUE_TEST_SCALE"), 64); err == nil && v > 0 {
				scale = v
			}
			jd := startJudge(t, time.Duration(float64(tc.delay)*scale))
			posPort, httpPort := strconv.Itoa(freePort(t)), strconv.Itoa(freePort(t))
			args := []string{"--v", "--upstreamHost=127.0.0.1", "--upstreamPort=" + jd.port(), "--listenPort=" + posPort,
				"--adminPort=" + httpPort, "--dataDir=" + t.TempDir(),
				"--queueTimeout=" + strconv.FormatFloat(0.3*scale, 'f', -1, 64), "--queueShortTimeout=" + strconv.FormatFloat(0.5*scale, 'f', -1, 64)}
			if tc.framed {
				args = append(args, "--listenFraming=header")
			}
			gw := start(t, "bank link up", args...)
			got := sendPurchases(t, "127.0.0.1:"+posPort, 0, 500, 50, tc.tids, tc.framed, nil)

			atBank := jd.count("0200")
			toReverse := map[string]bool{}
			for k := range atBank {
				if !got[k] {
					toReverse[k] = true
				}
			}
			if len(toReverse) == 0 || len(toReverse) == len(atBank) {
				t.Fatalf("%d of %d purchases to reverse: the bank's delay no longer straddles the timeout", len(toReverse), len(atBank))
			}
			// The log names a request by its STAN and TID as they read.
			if lines := gw.grep("request timed out"); len(lines) == 0 || !regexp.MustCompile(`key=[0-9]{6}/[0-9]{8}( |$)`).MatchString(lines[0]) {
				t.Errorf("timed-out request's line: %q, want key=STAN/TID", lines)
			}
			waitFor(t, "every reversal done", func() bool {
				return jd.total("0400") >= len(toReverse) && metric(t, httpPort, "socketqueue_reversals_pending") == 0
			})
			reversed := jd.count("0400")
			for k := range toReverse {
				if reversed[k] != 1 {
					t.Errorf("%s: %d reversals, want 1", k, reversed[k])
				}
			}
			for k, n := range reversed {
				if !toReverse[k] {
					_, stan, _ := strings.Cut(k, "/")
					t.Errorf("%s: reversed %d times, but its client saw it approved; the gateway's log of it:\n%s",
						k, n, strings.Join(gw.grep(stan), "\n"))
				}
			}
			if n := jd.total("0401"); n != 0 {
				t.Errorf("%d repeats sent to a bank that answered every try in time", n)
			}
			for _, m := range []string{"socketqueue_reversals_retried_total", "socketqueue_reversals_given_up_total"} {
				if v := metric(t, httpPort, m); v != 0 {
					t.Errorf("%s = %v", m, v)
				}
			}
			t.Logf("%d purchases at the bank, %d reversed once each (%d 0400s, %d 0401s)", len(atBank), len(toReverse), jd.total("0400"), jd.total("0401"))
			if code := gw.stop(t); code != 0 {
				t.Fatalf("exit %d", code)
			}
		})
	}
}

// TestReversalRepeats: a try whose link drops before its answer is sent
// again as 0401, and answered it ends; a try answered after it timed out
// is settled by that late answer and not sent again.
func TestReversalRepeats(t *testing.T) {
	for _, tc := range []struct {
		name string
		// answer0400: how the judge treats the first try (never: drop
		// the link once it has it).
		answer0400 time.Duration
		never      bool
		want0401   int
		wantLate   float64
	}{
		{name: "link drops", never: true, want0401: 1},
		{name: "late answer", answer0400: 700 * time.Millisecond, want0401: 0, wantLate: 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			jd := startJudge(t, 0)
			got0400 := make(chan struct{}, 1)
			jd.answer = func(m seenMsg) (time.Duration, bool) {
				switch m.MTI {
				case "0200":
					return 0, false // the purchase times out: to reverse
				case "0400":
					select {
					case got0400 <- struct{}{}:
					default:
					}
					return tc.answer0400, !tc.never
				}
				return 0, true
			}
			posPort, httpPort := strconv.Itoa(freePort(t)), strconv.Itoa(freePort(t))
			gw := start(t, "bank link up", "--v", "--upstreamHost=127.0.0.1", "--upstreamPort="+jd.port(), "--listenPort="+posPort,
				"--adminPort="+httpPort, "--dataDir="+t.TempDir(), "--queueTimeout=0.3", "--queueShortTimeout=0.5",
				"--upstreamRetry=0.1")
			if reply, _ := bare("127.0.0.1:"+posPort, purchaseFor(t, 1, "00000001")); len(reply) != 0 {
				t.Fatal("a purchase the bank never answered got a reply")
			}
			<-got0400
			if tc.never {
				jd.dropLink()
			}
			waitFor(t, "the reversal done", func() bool {
				return metric(t, httpPort, "socketqueue_reversals_approved_total") == 1 && metric(t, httpPort, "socketqueue_reversals_pending") == 0
			})
			if n := jd.total("0400"); n != 1 {
				t.Errorf("%d 0400s, want 1", n)
			}
			if n := jd.total("0401"); n != tc.want0401 {
				t.Errorf("%d 0401s, want %d", n, tc.want0401)
			}
			if v := metric(t, httpPort, "socketqueue_reversals_late_total"); v != tc.wantLate {
				t.Errorf("late answers %v, want %v", v, tc.wantLate)
			}
			if code := gw.stop(t); code != 0 {
				t.Fatalf("exit %d", code)
			}
		})
	}
}

package bank

import (
	"errors"
	"fmt"
	"io"
	"net"
	"regexp"
	"testing"
	"time"

	"github.com/socketqueue/socketqueue-go/isocodec"
)

// step is one request and what its reply must be.
type step struct {
	req  isocodec.Fields
	mti  string
	code string
	// approved purchases also carry 2, 37 and 38
	approval bool
	// useRRN copies field 37 of the previous approved reply into req
	useRRN bool
}

// TestRules runs each rule of docs/emulator.md over a real socket and checks the
// card's balance afterwards.
func TestRules(t *testing.T) {
	p := func(stan, amount string) isocodec.Fields { return purchase(stan, "00992468", testTrack2, amount) }
	refund := p("000010", "000000002500")
	refund[3] = "200000"
	noPAN := p("000011", "000000001000")
	delete(noPAN, 35)
	noAmount := p("000012", "000000001000")
	delete(noAmount, 4)
	invalid := p("000013", "000000001000")
	delete(invalid, 49)
	withPAN := p("000014", "000000001000")
	delete(withPAN, 35)
	withPAN[2] = "4850781234567891"
	balance := p("000015", "000000001000")
	balance[3] = "310000"
	revWrongAmount := reversalOf(p("000001", "000000000999"))
	delete(revWrongAmount, 37)

	tests := []struct {
		name    string
		steps   []step
		balance int64
	}{
		{"echo", []step{{req: echo("000001", "00992468"), mti: "0810", code: "000"}}, -1},
		{"purchase debits", []step{{req: p("000001", "000000001000"), mti: "0210", code: "000", approval: true}}, 99000},
		{"purchase by field 2", []step{{req: withPAN, mti: "0210", code: "000", approval: true}}, 99000},
		{"insufficient funds", []step{{req: p("000001", "000000100001"), mti: "0210", code: "116"}}, 100000},
		{"whole balance", []step{{req: p("000001", "000000100000"), mti: "0210", code: "000", approval: true}}, 0},
		{"magic 777 code", []step{{req: p("000001", "000000116777"), mti: "0210", code: "116"}}, -1},
		{"magic 777 short code", []step{{req: p("000001", "000000005777"), mti: "0210", code: "005"}}, -1},
		{"777 with an unknown code is an amount", []step{{req: p("000001", "000000006777"), mti: "0210", code: "000", approval: true}}, 100000 - 6777},
		{"magic 888 sets balance", []step{
			{req: p("000001", "000000005888"), mti: "0210", code: "000"},
			{req: p("000002", "000000000006"), mti: "0210", code: "116"},
			{req: p("000003", "000000000005"), mti: "0210", code: "000", approval: true},
		}, 0},
		{"refund credits", []step{{req: refund, mti: "0210", code: "000", approval: true}}, 102500},
		{"no PAN", []step{{req: noPAN, mti: "0210", code: "005"}}, -1},
		{"no amount", []step{{req: noAmount, mti: "0210", code: "005"}}, -1},
		{"invalid request", []step{{req: invalid, mti: "0210", code: "120"}}, -1},
		{"unsupported processing code", []step{{req: balance, mti: "0210", code: "115"}}, -1},
		{"reversal by RRN and PAN", []step{
			{req: p("000001", "000000001000"), mti: "0210", code: "000", approval: true},
			{req: reversalOf(p("000099", "000000001000")), useRRN: true, mti: "0410", code: "000"},
		}, 100000},
		{"reversal by TID and STAN", []step{
			{req: p("000001", "000000001000"), mti: "0210", code: "000", approval: true},
			{req: reversalOf(p("000001", "000000001000")), mti: "0410", code: "000"},
		}, 100000},
		{"double reversal pays once", []step{
			{req: p("000001", "000000001000"), mti: "0210", code: "000", approval: true},
			{req: p("000002", "000000002000"), mti: "0210", code: "000", approval: true},
			{req: reversalOf(p("000001", "000000001000")), mti: "0410", code: "000"},
			{req: reversalOf(p("000001", "000000001000")), mti: "0410", code: "000"},
		}, 98000},
		{"reversal of a refund", []step{
			{req: refund, mti: "0210", code: "000", approval: true},
			{req: reversalOf(refund), mti: "0410", code: "000"},
		}, 100000},
		{"reversal with another amount is not found", []step{
			{req: p("000001", "000000001000"), mti: "0210", code: "000", approval: true},
			{req: revWrongAmount, mti: "0410", code: "914"},
		}, 99000},
		{"reversal of nothing", []step{{req: reversalOf(p("000077", "000000001000")), mti: "0410", code: "914"}}, -1},
		{"reversal of a decline", []step{
			{req: p("000001", "000000200000"), mti: "0210", code: "116"},
			{req: reversalOf(p("000001", "000000200000")), mti: "0410", code: "914"},
		}, 100000},
		{"unknown MTI", []step{{req: isocodec.Fields{0: "0100", 3: "000000", 11: "000001", 41: "00992468"}, mti: "0110", code: "115"}}, -1},
	}
	rrnRE := regexp.MustCompile(`^\d{12}$`)
	authRE := regexp.MustCompile(`^[0-9A-Z]{6}$`)
	// One bank for all cases; each case has its own card.
	srv := startBank(t, isocodec.SmartVista, Faults{}, 1)
	for n, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := dial(t, srv)
			pan := "48507812345678" + string([]byte{'0' + byte(n/10), '0' + byte(n%10)})
			card, _ := PANOf([]byte(pan))
			var lastRRN string
			for i, st := range tc.steps {
				req := isocodec.Fields{}
				for k, v := range st.req {
					req[k] = v
				}
				if _, ok := req[35]; ok {
					req[35] = pan + testTrack2[16:]
				}
				if _, ok := req[2]; ok {
					req[2] = pan
				}
				if st.useRRN {
					req[37] = lastRRN
				}
				got := c.exchange(req)
				if got[0] != st.mti || got[39] != st.code {
					t.Fatalf("step %d: got %s/%s, want %s/%s", i, got[0], got[39], st.mti, st.code)
				}
				if got[11] != req[11] || got[41] != req[41] {
					t.Fatalf("step %d: reply 11/41 %s/%s, request %s/%s", i, got[11], got[41], req[11], req[41])
				}
				if _, ok := got[35]; ok {
					t.Fatalf("step %d: reply repeats track 2", i)
				}
				if st.approval {
					if got[2] != pan || !rrnRE.MatchString(got[37]) || !authRE.MatchString(got[38]) {
						t.Fatalf("step %d: approval fields 2=%q 37=%q 38=%q", i, got[2], got[37], got[38])
					}
					lastRRN = got[37]
				} else if st.mti == "0210" {
					if _, ok := got[38]; ok {
						t.Fatalf("step %d: a decline carries an approval code", i)
					}
				}
				if st.mti == "0810" {
					if _, ok := got[24]; ok {
						t.Fatalf("echo reply keeps 24")
					}
					if _, ok := got[42]; ok {
						t.Fatalf("echo reply keeps 42")
					}
					if !rrnRE.MatchString(got[37]) || len(got[7]) != 10 {
						t.Fatalf("echo reply 7=%q 37=%q", got[7], got[37])
					}
				}
			}
			if tc.balance >= 0 {
				b, _ := srv.Host().Ledger().Balance(card)
				if b != tc.balance {
					t.Fatalf("balance %d, want %d", b, tc.balance)
				}
			}
		})
	}
}

func TestRRNsAreUnique(t *testing.T) {
	srv := startBank(t, isocodec.SmartVista, Faults{}, 1)
	c := dial(t, srv)
	seen := map[string]bool{}
	for i := range 50 {
		stan := []byte("000000")
		stan[4], stan[5] = '0'+byte(i/10), '0'+byte(i%10)
		got := c.exchange(purchase(string(stan), "00992468", testTrack2, "000000000100"))
		if seen[got[37]] || seen["38"+got[38]] {
			t.Fatalf("repeated RRN %s or approval code %s", got[37], got[38])
		}
		seen[got[37]], seen["38"+got[38]] = true, true
	}
}

// TestSeedFixture: the original README's sample purchase, with field 12
// refreshed, is approved by the standalone emulator.
func TestSeedFixture(t *testing.T) {
	framed := readTestdata(t, "sv_200_purchase_header.bin")
	msg := framed[4:]
	var s isocodec.Scan
	if err := isocodec.SmartVista.Layout.Scan(msg, &s); err != nil {
		t.Fatal(err)
	}
	now := time.Now().Format("060102150405")
	fresh, err := isocodec.SmartVista.Layout.AppendEdited(nil, s.MTI, msg, &s, isocodec.Set(12, []byte(now)))
	if err != nil {
		t.Fatal(err)
	}
	srv := startBank(t, isocodec.SmartVista, Faults{}, 1)
	c := dial(t, srv)
	c.sendRaw(fresh)
	got := c.recv()
	if got[0] != "0210" || got[39] != "000" || got[2] == "" || got[37] == "" || got[38] == "" {
		t.Fatalf("got %v", got)
	}
}

func TestOpenWay(t *testing.T) {
	srv := startBank(t, isocodec.OpenWay, Faults{}, 1)
	c := dial(t, srv)
	got := c.exchange(isocodec.Fields{0: "0800", 3: "990000", 7: "1125120000", 11: "000001", 41: "TERM0001", 63: "ABC"})
	if got[0] != "0810" || got[39] != "00" {
		t.Fatalf("echo: %v", got)
	}
	buy := isocodec.Fields{0: "0200", 2: "4850781234567891", 3: "000000", 4: "000000001000", 7: "1125120000", 11: "000002", 12: "120000", 13: "1125", 25: "00", 42: "000124642124643",
		22: "051", 35: testTrack2, 41: "TERM0001", 49: "643"}
	got = c.exchange(buy)
	if got[0] != "0210" || got[39] != "00" || got[2] != "4850781234567891" {
		t.Fatalf("purchase: %v", got)
	}
	rev := reversalOf(buy)
	delete(rev, 24)
	got = c.exchange(rev)
	if got[0] != "0410" || got[39] != "00" {
		t.Fatalf("reversal: %v", got)
	}
	got = c.exchange(rev)
	if got[39] != "00" {
		t.Fatalf("repeated reversal: %v", got)
	}
	if b, _ := srv.Host().Ledger().Balance(testPAN); b != DefaultBalance {
		t.Fatalf("balance %d", b)
	}
}

// TestStrayResponseIsNotAnswered: a response sent to the bank gets no
// reply; the next request's reply is the next thing on the wire.
func TestStrayResponseIsNotAnswered(t *testing.T) {
	srv := startBank(t, isocodec.SmartVista, Faults{}, 1)
	c := dial(t, srv)
	stray := echo("000001", "00992468")
	stray[0], stray[39] = "0810", "000"
	c.send(stray)
	got := c.exchange(echo("000002", "00992468"))
	if got[11] != "000002" {
		t.Fatalf("got a reply to the stray response: %v", got)
	}
}

func TestGarbageClosesConnection(t *testing.T) {
	srv := startBank(t, isocodec.SmartVista, Faults{}, 1)
	for name, junk := range map[string][]byte{
		"http":               []byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"),
		"tls hello":          {0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03},
		"non-ISO in a frame": []byte("0010ABCDEFGHIJ"),
	} {
		t.Run(name, func(t *testing.T) {
			c := dial(t, srv)
			if _, err := c.conn.Write(junk); err != nil {
				t.Fatal(err)
			}
			_, err := c.recvRaw(5 * time.Second)
			var ne net.Error
			if !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) && !(errors.As(err, &ne) && !ne.Timeout()) {
				t.Fatalf("want the connection closed, got %v", err)
			}
		})
	}
	// The server is unaffected.
	c := dial(t, srv)
	if got := c.exchange(echo("000001", "00992468")); got[0] != "0810" {
		t.Fatalf("after garbage: %v", got)
	}
}

// TestSplitFrames: a frame that arrives a byte at a time is answered; the
// bytes of a partial frame are kept until the rest comes.
func TestSplitFrames(t *testing.T) {
	srv := startBank(t, isocodec.SmartVista, Faults{}, 1)
	c := dial(t, srv)
	for i := 1; i <= 3; i++ {
		msg, err := isocodec.SmartVista.Pack(echo(stan(i), "00992468"))
		if err != nil {
			t.Fatal(err)
		}
		frame := append([]byte(fmt.Sprintf("%04d", len(msg))), msg...)
		for _, b := range frame {
			if _, err := c.conn.Write([]byte{b}); err != nil {
				t.Fatal(err)
			}
		}
		if got := c.recv(); got[11] != stan(i) {
			t.Fatalf("reply %v", got)
		}
	}
}

package stats

import (
	"bufio"
	"bytes"
	"net"
	"testing"

	"github.com/socketqueue/socketqueue-go/internal/testloop"
	"github.com/socketqueue/socketqueue-go/isocodec"
)

func mti(s string) isocodec.MTI { m, _ := isocodec.ParseMTI(s); return m }

// TestFigures: a known mix gives exactly the original's figures.
func TestFigures(t *testing.T) {
	s := New()
	for _, m := range []string{"0800", "0810", "0200", "0210", "0200", "0210", "0200", "0210", "0200", "0210", "0400", "0410"} {
		s.Packet(mti(m))
	}
	s.Purchase(138355449) // approved purchase
	s.Purchase(100)       // declined
	s.Purchase(2500)      // refund
	s.Purchase(346000)    // later reversed
	s.Reply(mti("0210"), []byte("000"), true, false, 138355449)
	s.Reply(mti("0210"), []byte("116"), false, false, 100)
	s.Reply(mti("0210"), []byte("000"), true, true, 2500)
	s.Reply(mti("0210"), []byte("000"), true, false, 346000)
	s.Reply(mti("0410"), []byte("000"), true, false, 346000)
	s.Reply(mti("0410"), []byte("005"), false, false, 346000)
	s.Reply(mti("0810"), []byte("005"), false, false, 0) // not a money reply
	want := `{"securedAmount":1383529.49,"processedAmount":1387040.49,"refundAmount":25,"reversalAmount":3460,` +
		`"faultStat":{"5":1,"116":1},"packetCount":{"total":12,"0200":4,"0210":4,"0400":1,"0410":1,"0800":1,"0810":1}}`
	if got := string(s.AppendJSON(nil)); got != want {
		t.Fatalf("got\n%s\nwant\n%s", got, want)
	}
	// The dump file round-trips.
	back := New()
	if err := back.Load(bytes.NewReader(s.AppendJSON(nil))); err != nil {
		t.Fatal(err)
	}
	if got := string(back.AppendJSON(nil)); got != want {
		t.Fatalf("after load\n%s", got)
	}
	s.Reset()
	if got := string(s.AppendJSON(nil)); got != `{"securedAmount":0,"processedAmount":0,"refundAmount":0,"reversalAmount":0,"faultStat":{},"packetCount":{"total":0}}` {
		t.Fatalf("after reset %s", got)
	}
}

func TestAmounts(t *testing.T) {
	for v, want := range map[int64]string{0: "0", 5: "0.05", 50: "0.5", 1250: "12.5", 346000: "3460", -2550: "-25.5", 138355449: "1383554.49"} {
		if got := string(appendAmount(nil, v)); got != want {
			t.Errorf("%d: %s, want %s", v, got, want)
		}
		if back, err := parseAmount(want); err != nil || back != v {
			t.Errorf("parse %s: %d %v", want, back, err)
		}
	}
	for _, bad := range []string{"1.234", "", "x", "1e5"} {
		if _, err := parseAmount(bad); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
}

func TestServeTCP(t *testing.T) {
	s := New()
	s.Packet(mti("0800"))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error)
	go func() { done <- s.ServeTCP(ln) }()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	c.Close()
	if err != nil || line != string(s.AppendJSON(nil))+"\n" {
		t.Fatalf("%q %v", line, err)
	}
	ln.Close()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func BenchmarkCount(b *testing.B) {
	s := New()
	m, r := mti("0200"), mti("0210")
	code := []byte("000")
	b.ReportAllocs()
	for b.Loop() {
		s.Packet(m)
		s.Purchase(1000)
		s.Packet(r)
		s.Reply(r, code, true, false, 1000)
	}
}

// TestLoopTallies: what loops and the shared tally count is shown as one
// set of figures; a reset and a load act on all of it, and a loop that no
// longer answers keeps its last figures.
func TestLoopTallies(t *testing.T) {
	s := New()
	exec, run := testloop.New(t)
	answers := true
	a := s.LoopTally(func(fn func()) bool { return answers && exec(fn) })
	run(func() {
		a.Packet(mti("0200"))
		a.Purchase(1000)
		a.Packet(mti("0210"))
		a.Reply(mti("0210"), []byte("000"), true, false, 1000)
		a.Reply(mti("0210"), []byte("051"), false, false, 500)
	})
	s.Packet(mti("0800"))
	want := `{"securedAmount":10,"processedAmount":10,"refundAmount":0,"reversalAmount":0,` +
		`"faultStat":{"51":1},"packetCount":{"total":3,"0200":1,"0210":1,"0800":1}}`
	if got := string(s.AppendJSON(nil)); got != want {
		t.Fatalf("got\n%s\nwant\n%s", got, want)
	}
	answers = false
	if got := string(s.AppendJSON(nil)); got != want {
		t.Fatalf("a silent loop's figures went:\n%s", got)
	}
	answers = true
	s.Reset()
	zero := `{"securedAmount":0,"processedAmount":0,"refundAmount":0,"reversalAmount":0,"faultStat":{},"packetCount":{"total":0}}`
	if got := string(s.AppendJSON(nil)); got != zero {
		t.Fatalf("after reset %s", got)
	}
	run(func() { a.Packet(mti("0200")) })
	if err := s.Load(bytes.NewReader([]byte(want))); err != nil {
		t.Fatal(err)
	}
	if got := string(s.AppendJSON(nil)); got != want {
		t.Fatalf("after load\n%s\nwant\n%s", got, want)
	}
	if n := testing.AllocsPerRun(100, func() { a.Packet(mti("0200")); a.Purchase(1); a.Reply(mti("0210"), []byte("000"), true, false, 1) }); n != 0 {
		t.Fatalf("a loop's counting allocates %v", n)
	}
}

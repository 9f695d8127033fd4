package metrics

import (
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"

	"github.com/socketqueue/socketqueue-go/internal/testloop"
	"github.com/socketqueue/socketqueue-go/isocodec"
)

// TestCountingAllocatesNothing: once an MTI and a code are seen, a
// loop's tally adds plain numbers.
func TestCountingAllocatesNothing(t *testing.T) {
	m := New()
	tl := m.LoopTally(func(func()) bool { return false })
	link := m.Link("127.0.0.1:5000")
	mti := isocodec.MTIPurchaseResponse
	code := []byte("000")
	count := func() {
		tl.Message(mti, FromBank)
		tl.Code(mti, code)
		tl.Reply(3*time.Millisecond, 2*time.Millisecond)
		tl.LinkRoundTrip(link, 2*time.Millisecond)
	}
	count()
	if n := testing.AllocsPerRun(100, count); n != 0 {
		t.Fatalf("%v allocs", n)
	}
	var nilM *Metrics // a gateway without metrics
	nilM.Message(mti, FromBank)
	nilM.Code(mti, code)
	nilM.Timeout()
	nilM.LoopTally(nil).Message(mti, FromBank)
}

// TestTalliesAddUp: what two loops and the shared tally counted is
// scraped as one figure per label set, in Prometheus' own shape.
func TestTalliesAddUp(t *testing.T) {
	m := New()
	exec1, run1 := testloop.New(t)
	exec2, run2 := testloop.New(t)
	a, b := m.LoopTally(exec1), m.LoopTally(exec2)
	link := m.Link("bank-1")
	run1(func() {
		for range 3 {
			a.Message(isocodec.MTIPurchase, FromClient)
			a.Code(isocodec.MTIPurchaseResponse, []byte("000"))
			a.Reply(time.Millisecond, 700*time.Microsecond)
		}
		a.LinkRoundTrip(link, 30*time.Second)
	})
	run2(func() {
		b.Message(isocodec.MTIPurchase, FromClient)
		b.Code(isocodec.MTIPurchaseResponse, []byte("A1")) // no numeric slot
		b.Reply(40*time.Second, 0)
	})
	m.Message(isocodec.MTIPurchase, FromClient)
	m.JournalWait(300 * time.Microsecond)

	out := scrape(t, m)
	for _, line := range []string{
		`socketqueue_messages_total{direction="from_client",mti="0200"} 5`,
		`socketqueue_response_codes_total{code="000",mti="0210"} 3`,
		`socketqueue_response_codes_total{code="A1",mti="0210"} 1`,
		`socketqueue_reply_seconds_bucket{le="0.001"} 3`,
		`socketqueue_reply_seconds_bucket{le="35"} 3`,
		`socketqueue_reply_seconds_bucket{le="+Inf"} 4`,
		`socketqueue_reply_seconds_count 4`,
		`socketqueue_reply_seconds_sum 40.003`,
		`socketqueue_bank_round_trip_seconds_bucket{le="0.0005"} 0`,
		`socketqueue_bank_round_trip_seconds_bucket{le="0.001"} 3`,
		`socketqueue_bank_link_round_trip_seconds_bucket{link="bank-1",le="10"} 0`,
		`socketqueue_bank_link_round_trip_seconds_bucket{link="bank-1",le="35"} 1`,
		`socketqueue_journal_wait_seconds_bucket{le="0.0002"} 0`,
		`socketqueue_journal_wait_seconds_bucket{le="0.0005"} 1`,
	} {
		if !strings.Contains(out, line+"\n") {
			t.Errorf("no %q in\n%s", line, out)
		}
	}
}

// TestTallyOfAStoppedLoop: a loop that no longer answers gives the
// figures it last gave, so a counter never goes down.
func TestTallyOfAStoppedLoop(t *testing.T) {
	m := New()
	exec, run := testloop.New(t)
	answers := true
	tl := m.LoopTally(func(fn func()) bool {
		if !answers {
			return false
		}
		return exec(fn)
	})
	run(func() { tl.Message(isocodec.MTINetwork, ToBank) })
	if out := scrape(t, m); !strings.Contains(out, `socketqueue_messages_total{direction="to_bank",mti="0800"} 1`) {
		t.Fatalf("first scrape:\n%s", out)
	}
	answers = false
	if out := scrape(t, m); !strings.Contains(out, `socketqueue_messages_total{direction="to_bank",mti="0800"} 1`) {
		t.Fatalf("a silent loop's figures went:\n%s", out)
	}
}

func scrape(t *testing.T, m *Metrics) string {
	t.Helper()
	mfs, err := m.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, mf := range mfs {
		if _, err := expfmt.MetricFamilyToText(&b, mf); err != nil {
			t.Fatal(err)
		}
	}
	return b.String()
}

func TestCodeSlots(t *testing.T) {
	a, _ := codeSlot(isocodec.MTIPurchaseResponse, []byte("116"))
	b, _ := codeSlot(isocodec.MTI{'0', '4', '1', '0'}, []byte("116"))
	if a == b {
		t.Fatal("0210 and 0410 share a slot")
	}
	if _, ok := codeSlot(isocodec.MTIPurchaseResponse, []byte("A1")); ok {
		t.Fatal("a letter code got a numeric slot")
	}
}

// BenchmarkLoopTally is what a relayed purchase's counting costs on its
// loop: four messages, a code, a reply and a link's round trip.
func BenchmarkLoopTally(b *testing.B) {
	m := New()
	tl := m.LoopTally(func(func()) bool { return false })
	link := m.Link("bank")
	code := []byte("000")
	b.ReportAllocs()
	for b.Loop() {
		tl.Message(isocodec.MTIPurchase, FromClient)
		tl.Message(isocodec.MTIPurchase, ToBank)
		tl.Message(isocodec.MTIPurchaseResponse, FromBank)
		tl.Message(isocodec.MTIPurchaseResponse, ToClient)
		tl.Code(isocodec.MTIPurchaseResponse, code)
		tl.Reply(3*time.Millisecond, 2*time.Millisecond)
		tl.LinkRoundTrip(link, 2*time.Millisecond)
	}
}

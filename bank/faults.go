package bank

import (
	"sync"
	"time"

	"github.com/socketqueue/socketqueue-go/isocodec"
)

// Rand is the random source faults draw from; math/rand/v2's *Rand
// satisfies it. Faults serialize their calls, so it need not be safe for
// concurrent use.
type Rand interface {
	IntN(n int) int
}

// RealLifeDuplicateAfter is how long the real-life mode waits before
// sending a reply the second time (docs/emulator.md).
const RealLifeDuplicateAfter = 500 * time.Millisecond

// Faults make the emulator misbehave on purpose. The zero value is a
// well-behaved bank.
type Faults struct {
	// RealLife, as the original's testRealLife: about 1 request in 10 is
	// processed and then the connection is closed without its reply;
	// about 1 reply in 5 is sent again RealLifeDuplicateAfter later.
	RealLife bool
	// Delay holds every reply back this long, plus a uniform random part
	// below Jitter. Delayed replies may overtake each other.
	Delay  time.Duration
	Jitter time.Duration
	// MuteEvery N > 0: every Nth purchase or refund is processed (the
	// money moves) but never answered, as when a bank's reply is lost.
	MuteEvery int
	// Code, when set, answers requests of CodeMTI (0200 when zero) and
	// its repeats (0401 for 0400) with this response code and no effect
	// on the ledger; only the first CodeCount of them when CodeCount > 0.
	Code      string
	CodeMTI   isocodec.MTI
	CodeCount int
}

// Decision is what a Server does with a reply besides writing it.
type Decision struct {
	// Silent: write nothing (a muted request, or a stray response).
	Silent bool
	// Close the connection, without this reply, once earlier replies are
	// written.
	Close bool
	// Delay before writing the reply.
	Delay time.Duration
	// Twice: write the reply again RealLifeDuplicateAfter after the first.
	Twice bool
	// Code is a forced response code, or empty.
	Code string
}

// faultState applies Faults with the counters and random source they
// need; one per Host.
type faultState struct {
	cfg       Faults
	code      []byte // cfg.Code
	mu        sync.Mutex
	rand      Rand
	purchases int
	coded     int
}

func (f *faultState) active() bool {
	c := &f.cfg
	return c.RealLife || c.Delay > 0 || c.Jitter > 0 || c.MuteEvery > 0 || c.Code != ""
}

// draw decides the faults for one request. money is true for requests
// that move money (purchases and refunds), the ones MuteEvery counts.
func (f *faultState) draw(mti isocodec.MTI, money bool) Decision {
	var d Decision
	if !f.active() {
		return d
	}
	c := &f.cfg
	f.mu.Lock()
	defer f.mu.Unlock()
	if c.Code != "" {
		want := c.CodeMTI
		if want == (isocodec.MTI{}) {
			want = isocodec.MTIPurchase
		}
		if first(mti) == want && (c.CodeCount <= 0 || f.coded < c.CodeCount) {
			f.coded++
			d.Code = c.Code
		}
	}
	if money && c.MuteEvery > 0 {
		f.purchases++
		if f.purchases%c.MuteEvery == 0 {
			d.Silent = true
		}
	}
	if c.RealLife {
		d.Close = f.rand.IntN(10) == 0
		d.Twice = f.rand.IntN(5) == 0
	}
	d.Delay = c.Delay
	if c.Jitter > 0 {
		d.Delay += time.Duration(f.rand.IntN(int(c.Jitter)))
	}
	return d
}

// first is the MTI a repeat repeats (0401 -> 0400).
func first(m isocodec.MTI) isocodec.MTI {
	if m.IsRepeat() {
		m[3]--
	}
	return m
}

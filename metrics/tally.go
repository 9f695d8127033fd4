package metrics

import (
	"time"

	"github.com/socketqueue/socketqueue-go/internal/owned"
	"github.com/socketqueue/socketqueue-go/isocodec"
)

// Tally is the per-message figures (messages, response codes, the
// reply, round-trip and journal histograms) as plain numbers, owned by
// one goroutine: an event loop adds to its own tally with no atomic and
// no lock, and a scrape reads it by running a copy on that loop (the
// exec given to Metrics.LoopTally). The shared tally, for goroutines
// that are no loop (HTTP handlers, the journal writer, the ticker),
// locks instead. A nil *Tally counts nothing.
//
// Only the owner may call a loop tally's methods.
type Tally struct {
	own owned.Owner[snapshot]

	byMTI [10000]uint16 // MTI as a number -> 1 + its row in msgs
	msgs  []mtiCounts
	// byCode places numeric codes (codeSlot) -> 1 + row in codes, made
	// on the first code; odd holds the others.
	byCode []uint32
	codes  []codeCount
	odd    map[string]int

	reply, roundTrip, journal hist
	links                     []hist // by the index Metrics.Link gave
}

type mtiCounts struct {
	mti isocodec.MTI
	n   [directions]uint64
}

type codeCount struct {
	mti  isocodec.MTI
	code string
	n    uint64
}

// hist is a histogram's counts: by bucket (the last is +Inf), their
// total and the sum of the durations observed.
type hist struct {
	bucket [16]uint64
	count  uint64
	sum    time.Duration
}

// Bucket bounds (inclusive, as Prometheus' le) in nanoseconds.
var (
	latencyBounds = boundsOf(.0005, .001, .002, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 35)
	journalBounds = boundsOf(.0001, .0002, .0005, .001, .002, .005, .01, .025, .05, .1, .25, 1)
)

func boundsOf(seconds ...float64) []time.Duration {
	out := make([]time.Duration, len(seconds))
	for i, s := range seconds {
		out[i] = time.Duration(s * float64(time.Second))
	}
	return out
}

func (h *hist) observe(bounds []time.Duration, d time.Duration) {
	i := 0
	for i < len(bounds) && d > bounds[i] {
		i++
	}
	h.bucket[i]++
	h.count++
	h.sum += d
}

func (h *hist) add(o *hist) {
	for i := range h.bucket {
		h.bucket[i] += o.bucket[i]
	}
	h.count += o.count
	h.sum += o.sum
}

func newTally() *Tally { return &Tally{} }

// Message counts one message.
func (t *Tally) Message(mti isocodec.MTI, d Direction) {
	if t == nil {
		return
	}
	n, ok := mti.Number()
	if !ok {
		return
	}
	if mu := t.own.Mu; mu != nil { // the shared tally (a defer only here)
		mu.Lock()
		defer mu.Unlock()
	}
	row := t.byMTI[n]
	if row == 0 {
		t.msgs = append(t.msgs, mtiCounts{mti: mti})
		row = uint16(len(t.msgs))
		t.byMTI[n] = row
	}
	t.msgs[row-1].n[d]++
}

// Code counts a reply's response code.
func (t *Tally) Code(mti isocodec.MTI, code []byte) {
	if t == nil {
		return
	}
	if mu := t.own.Mu; mu != nil { // the shared tally (a defer only here)
		mu.Lock()
		defer mu.Unlock()
	}
	if i, ok := codeSlot(mti, code); ok {
		if t.byCode == nil {
			t.byCode = make([]uint32, 100*1000)
		}
		row := t.byCode[i]
		if row == 0 {
			t.codes = append(t.codes, codeCount{mti: mti, code: string(code)})
			row = uint32(len(t.codes))
			t.byCode[i] = row
		}
		t.codes[row-1].n++
		return
	}
	if t.odd == nil {
		t.odd = map[string]int{}
	}
	key := mti.String() + string(code)
	row, ok := t.odd[key]
	if !ok {
		t.codes = append(t.codes, codeCount{mti: mti, code: string(code)})
		row = len(t.codes)
		t.odd[key] = row
	}
	t.codes[row-1].n++
}

// Reply observes a client's wait and the bank's round trip (either may be
// zero when unknown).
func (t *Tally) Reply(wait, roundTrip time.Duration) {
	if t == nil {
		return
	}
	if mu := t.own.Mu; mu != nil { // the shared tally (a defer only here)
		mu.Lock()
		defer mu.Unlock()
	}
	if wait > 0 {
		t.reply.observe(latencyBounds, wait)
	}
	if roundTrip > 0 {
		t.roundTrip.observe(latencyBounds, roundTrip)
	}
}

// JournalWait observes how long a purchase waited for its record.
func (t *Tally) JournalWait(d time.Duration) {
	if t == nil {
		return
	}
	if mu := t.own.Mu; mu != nil { // the shared tally (a defer only here)
		mu.Lock()
		defer mu.Unlock()
	}
	t.journal.observe(journalBounds, d)
}

// LinkRoundTrip observes a reply's round trip on link, the index
// Metrics.Link gave its name.
func (t *Tally) LinkRoundTrip(link int, d time.Duration) {
	if t == nil || link < 0 {
		return
	}
	if mu := t.own.Mu; mu != nil { // the shared tally (a defer only here)
		mu.Lock()
		defer mu.Unlock()
	}
	for len(t.links) <= link {
		t.links = append(t.links, hist{})
	}
	t.links[link].observe(latencyBounds, d)
}

// snapshot is a copy of a tally's figures, made by its owner.
type snapshot struct {
	msgs                      []mtiCounts
	codes                     []codeCount
	reply, roundTrip, journal hist
	links                     []hist
}

// copyTo fills s from t; on t's owner (or under its lock).
func (t *Tally) copyTo(s *snapshot) {
	s.msgs = append(s.msgs[:0], t.msgs...)
	s.codes = append(s.codes[:0], t.codes...)
	s.reply, s.roundTrip, s.journal = t.reply, t.roundTrip, t.journal
	s.links = append(s.links[:0], t.links...)
}

// read is the tally's figures now, copied by its owner (see
// owned.Owner.Copy). Scrape goroutine only (the collector's lock).
func (t *Tally) read() *snapshot { return t.own.Copy(t.copyTo) }

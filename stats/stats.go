// Package stats keeps the original SocketQueue's figures: amounts secured,
// processed, refunded and reversed, response codes of failures, and
// messages by MTI, and shows them as the original did, as one JSON
// object.
//
// Invariants: amounts are integer minor units (no float drift; shown
// with the decimal point the original showed); an event loop counts in a
// tally of its own with no atomic or lock (failure codes included), and
// its figures are read on the loop.
package stats

import (
	"errors"
	"fmt"
	"io"
	"maps"
	"sort"
	"strconv"
	"sync"

	json "github.com/goccy/go-json"

	"github.com/socketqueue/socketqueue-go/internal/owned"
	"github.com/socketqueue/socketqueue-go/isocodec"
)

// Stats is one set of figures; safe for concurrent use. What is counted
// per message goes into tallies, one per event loop (LoopTally) and one
// shared; the figures shown are base, what was loaded or reset, plus the
// tallies read now.
type Stats struct {
	mu     sync.Mutex // base, loops
	base   figures
	shared *Tally
	loops  []*Tally
	read   sync.Mutex // one reading of the tallies at a time
}

// figures are the counts themselves.
type figures struct {
	secured, processed, refund, reversal, total int64
	packets                                     [10000]int64 // by MTI as a number
	faults                                      map[string]int64
}

func (f *figures) add(o *figures, sign int64) {
	f.secured += sign * o.secured
	f.processed += sign * o.processed
	f.refund += sign * o.refund
	f.reversal += sign * o.reversal
	f.total += sign * o.total
	for i, n := range o.packets {
		f.packets[i] += sign * n
	}
	for c, n := range o.faults {
		if f.faults == nil {
			f.faults = map[string]int64{}
		}
		f.faults[c] += sign * n
	}
}

// Tally is the figures one goroutine counts: an event loop's, with plain
// arithmetic, read by running a copy on that loop (the exec given to
// LoopTally), or the shared one, which locks. Only the owner may count
// in a loop's tally; a nil *Tally counts nothing.
type Tally struct {
	own owned.Owner[figures]
	f   figures
}

// New makes empty figures.
func New() *Stats { return &Stats{shared: &Tally{own: owned.Owner[figures]{Mu: new(sync.Mutex)}}} }

// LoopTally makes the tally of one event loop; exec runs a function on
// that loop and reports whether it ran (a read waits for it, and uses the
// loop's last figures when it did not). Nil on a nil Stats.
func (s *Stats) LoopTally(exec func(func()) bool) *Tally {
	if s == nil {
		return nil
	}
	t := &Tally{own: owned.Owner[figures]{Exec: exec}}
	s.mu.Lock()
	s.loops = append(s.loops, t)
	s.mu.Unlock()
	return t
}

// Shared is the tally for goroutines that are no event loop.
func (s *Stats) Shared() *Tally {
	if s == nil {
		return nil
	}
	return s.shared
}

// Packet counts one message handled, in the shared tally.
func (s *Stats) Packet(m isocodec.MTI) { s.Shared().Packet(m) }

// Purchase counts a client's 0200 amount as processed, in the shared
// tally.
func (s *Stats) Purchase(amount int64) { s.Shared().Purchase(amount) }

// Reply counts a bank reply, in the shared tally (see Tally.Reply).
func (s *Stats) Reply(m isocodec.MTI, code []byte, approved, refund bool, amount int64) {
	s.Shared().Reply(m, code, approved, refund, amount)
}

// Packet counts one message handled.
func (t *Tally) Packet(m isocodec.MTI) {
	if t == nil {
		return
	}
	if i, ok := m.Number(); ok {
		if mu := t.own.Mu; mu != nil { // the shared tally
			mu.Lock()
			defer mu.Unlock()
		}
		t.f.packets[i]++
		t.f.total++
	}
}

// Purchase counts a client's 0200 amount as processed.
func (t *Tally) Purchase(amount int64) {
	if t == nil {
		return
	}
	if mu := t.own.Mu; mu != nil {
		mu.Lock()
		defer mu.Unlock()
	}
	t.f.processed += amount
}

// Reply counts a bank reply: an approved 0210 secures its amount (a
// refund, processing code 20, takes it off and adds to refunds); an
// approved 0410 takes its amount off and adds to reversals; any other
// code of an 0210 or 0410 is a fault.
func (t *Tally) Reply(m isocodec.MTI, code []byte, approved, refund bool, amount int64) {
	class := m.Class()
	if t == nil || class != '2' && class != '4' || !m.IsResponse() {
		return
	}
	if mu := t.own.Mu; mu != nil {
		mu.Lock()
		defer mu.Unlock()
	}
	f := &t.f
	if !approved {
		if f.faults == nil {
			f.faults = map[string]int64{}
		}
		f.faults[trimZeros(code)]++
		return
	}
	switch {
	case class == '4':
		f.reversal += amount
		f.secured -= amount
	case refund:
		f.refund += amount
		f.secured -= amount
	default:
		f.secured += amount
	}
}

// copyTo fills f with t's figures; on t's owner (or under its lock).
func (t *Tally) copyTo(f *figures) {
	*f = t.f
	f.faults = maps.Clone(t.f.faults)
}

// figures is t's figures now, copied by its owner (see
// owned.Owner.Copy). Under Stats.read.
func (t *Tally) figures() *figures { return t.own.Copy(t.copyTo) }

// now is the figures shown: base plus every tally. Under s.read.
func (s *Stats) now() *figures {
	s.mu.Lock()
	tallies := append([]*Tally{s.shared}, s.loops...)
	s.mu.Unlock()
	sum := &figures{}
	for _, t := range tallies {
		sum.add(t.figures(), 1)
	}
	s.mu.Lock()
	sum.add(&s.base, 1)
	s.mu.Unlock()
	return sum
}

// trimZeros shows a code as the original did ("005" as "5").
func trimZeros(code []byte) string {
	i := 0
	for i < len(code)-1 && code[i] == '0' {
		i++
	}
	return string(code[i:])
}

// Reset zeroes everything (SIGHUP, SIGUSR2): what the tallies hold
// now is taken off the base.
func (s *Stats) Reset() {
	s.read.Lock()
	defer s.read.Unlock()
	cur := s.now()
	s.mu.Lock()
	s.base.add(cur, -1)
	s.mu.Unlock()
}

// AppendJSON writes the figures in the original's shape.
func (s *Stats) AppendJSON(dst []byte) []byte {
	s.read.Lock()
	f := s.now()
	s.read.Unlock()
	dst = append(dst, `{"securedAmount":`...)
	dst = appendAmount(dst, f.secured)
	dst = append(dst, `,"processedAmount":`...)
	dst = appendAmount(dst, f.processed)
	dst = append(dst, `,"refundAmount":`...)
	dst = appendAmount(dst, f.refund)
	dst = append(dst, `,"reversalAmount":`...)
	dst = appendAmount(dst, f.reversal)
	dst = append(dst, `,"faultStat":{`...)
	codes := make([]string, 0, len(f.faults))
	for c, n := range f.faults {
		if n != 0 { // a code counted only before a reset
			codes = append(codes, c)
		}
	}
	sort.Slice(codes, func(a, b int) bool {
		na, ea := strconv.Atoi(codes[a])
		nb, eb := strconv.Atoi(codes[b])
		if ea == nil && eb == nil {
			return na < nb
		}
		return codes[a] < codes[b]
	})
	for i, c := range codes {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = isocodec.AppendJSONString(dst, c)
		dst = append(dst, ':')
		dst = strconv.AppendInt(dst, f.faults[c], 10)
	}
	dst = append(dst, `},"packetCount":{"total":`...)
	dst = strconv.AppendInt(dst, f.total, 10)
	for i, n := range f.packets {
		if n > 0 {
			dst = fmt.Appendf(dst, `,"%04d":%d`, i, n)
		}
	}
	return append(dst, "}}"...)
}

// appendAmount shows minor units as the original's numbers: 1383554.49,
// 3460, 12.5.
func appendAmount(dst []byte, v int64) []byte {
	if v < 0 {
		dst = append(dst, '-')
		v = -v
	}
	dst = strconv.AppendInt(dst, v/100, 10)
	switch c := v % 100; {
	case c == 0:
	case c%10 == 0:
		dst = append(dst, '.', byte('0'+c/10))
	default:
		dst = append(dst, '.', byte('0'+c/10), byte('0'+c%10))
	}
	return dst
}

// Load reads figures written by AppendJSON (the statDumpFile) into s:
// each figure it holds is shown as loaded, the others as they were.
func (s *Stats) Load(r io.Reader) error {
	var in struct {
		FaultStat   map[string]int64
		PacketCount map[string]int64
	}
	var raw map[string]json.RawMessage
	if err := json.NewDecoder(r).Decode(&raw); err != nil {
		return fmt.Errorf("stats: %w", err)
	}
	s.read.Lock()
	defer s.read.Unlock()
	cur := s.now()
	// want is what the figures are to show; the base takes the difference.
	want := &figures{}
	want.add(cur, 1)
	for name, dst := range map[string]*int64{"securedAmount": &want.secured, "processedAmount": &want.processed,
		"refundAmount": &want.refund, "reversalAmount": &want.reversal} {
		v, ok := raw[name]
		if !ok {
			continue
		}
		minor, err := parseAmount(string(v))
		if err != nil {
			return fmt.Errorf("stats: %s: %w", name, err)
		}
		*dst = minor
	}
	if v, ok := raw["faultStat"]; ok {
		if err := json.Unmarshal(v, &in.FaultStat); err != nil {
			return fmt.Errorf("stats: faultStat: %w", err)
		}
	}
	if v, ok := raw["packetCount"]; ok {
		if err := json.Unmarshal(v, &in.PacketCount); err != nil {
			return fmt.Errorf("stats: packetCount: %w", err)
		}
	}
	if want.faults == nil {
		want.faults = map[string]int64{}
	}
	for c, n := range in.FaultStat {
		want.faults[c] = n
	}
	for k, n := range in.PacketCount {
		if k == "total" {
			want.total = n
			continue
		}
		m, err := isocodec.ParseMTI(k)
		if i, ok := m.Number(); err == nil && ok {
			want.packets[i] = n
		}
	}
	s.mu.Lock()
	s.base.add(want, 1)
	s.base.add(cur, -1)
	s.mu.Unlock()
	return nil
}

// parseAmount reads "1383554.49", "3460", "-12.5" as minor units.
func parseAmount(s string) (int64, error) {
	neg := false
	if len(s) > 0 && s[0] == '-' {
		neg, s = true, s[1:]
	}
	units, frac, _ := cutDot(s)
	if len(frac) > 2 || units == "" {
		return 0, errors.New("not an amount with at most two decimals: " + s)
	}
	u, err := strconv.ParseInt(units, 10, 64)
	if err != nil {
		return 0, err
	}
	var c int64
	if frac != "" {
		if c, err = strconv.ParseInt((frac + "0")[:2], 10, 64); err != nil {
			return 0, err
		}
	}
	v := u*100 + c
	if neg {
		v = -v
	}
	return v, nil
}

func cutDot(s string) (string, string, bool) {
	for i := 0; i < len(s); i++ {
		if s[i] == '.' {
			return s[:i], s[i+1:], true
		}
	}
	return s, "", false
}

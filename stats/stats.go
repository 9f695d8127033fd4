// Package stats keeps the original SocketQueue's figures: amounts secured,
// processed, refunded and reversed, response codes of failures, and
// messages by MTI, and shows them as the original did, as one JSON
// object.
//
// Invariants: amounts are integer minor units (no float drift; shown
// with the decimal point the original showed); counting is lock-free
// except for failure codes, which are rare.
package stats

import (
	"errors"
	"fmt"
	"io"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"

	json "github.com/goccy/go-json"

	"github.com/socketqueue/socketqueue-go/isocodec"
)

// Stats is one set of figures; safe for concurrent use.
type Stats struct {
	secured, processed, refund, reversal atomic.Int64
	total                                atomic.Int64
	packets                              [10000]atomic.Int64 // by MTI as a number

	mu     sync.Mutex
	faults map[string]int64
}

// New makes empty figures.
func New() *Stats { return &Stats{faults: map[string]int64{}} }

// Packet counts one message handled (nothing on a nil Stats).
func (s *Stats) Packet(m isocodec.MTI) {
	if s == nil {
		return
	}
	if i, ok := m.Number(); ok {
		s.packets[i].Add(1)
		s.total.Add(1)
	}
}

// Purchase counts a client's 0200 amount as processed.
func (s *Stats) Purchase(amount int64) { s.processed.Add(amount) }

// Reply counts a bank reply: an approved 0210 secures its amount (a
// refund, processing code 20, takes it off and adds to refunds); an
// approved 0410 takes its amount off and adds to reversals; any other
// code of an 0210 or 0410 is a fault.
func (s *Stats) Reply(m isocodec.MTI, code []byte, approved, refund bool, amount int64) {
	class := m.Class()
	if class != '2' && class != '4' || !m.IsResponse() {
		return
	}
	if !approved {
		c := trimZeros(code)
		s.mu.Lock()
		s.faults[c]++
		s.mu.Unlock()
		return
	}
	switch {
	case class == '4':
		s.reversal.Add(amount)
		s.secured.Add(-amount)
	case refund:
		s.refund.Add(amount)
		s.secured.Add(-amount)
	default:
		s.secured.Add(amount)
	}
}

// trimZeros shows a code as the original did ("005" as "5").
func trimZeros(code []byte) string {
	i := 0
	for i < len(code)-1 && code[i] == '0' {
		i++
	}
	return string(code[i:])
}

// Reset zeroes everything (SIGHUP).
func (s *Stats) Reset() {
	s.secured.Store(0)
	s.processed.Store(0)
	s.refund.Store(0)
	s.reversal.Store(0)
	s.total.Store(0)
	for i := range s.packets {
		s.packets[i].Store(0)
	}
	s.mu.Lock()
	s.faults = map[string]int64{}
	s.mu.Unlock()
}

// AppendJSON writes the figures in the original's shape.
func (s *Stats) AppendJSON(dst []byte) []byte {
	dst = append(dst, `{"securedAmount":`...)
	dst = appendAmount(dst, s.secured.Load())
	dst = append(dst, `,"processedAmount":`...)
	dst = appendAmount(dst, s.processed.Load())
	dst = append(dst, `,"refundAmount":`...)
	dst = appendAmount(dst, s.refund.Load())
	dst = append(dst, `,"reversalAmount":`...)
	dst = appendAmount(dst, s.reversal.Load())
	dst = append(dst, `,"faultStat":{`...)
	s.mu.Lock()
	codes := make([]string, 0, len(s.faults))
	for c := range s.faults {
		codes = append(codes, c)
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
		dst = strconv.AppendInt(dst, s.faults[c], 10)
	}
	s.mu.Unlock()
	dst = append(dst, `},"packetCount":{"total":`...)
	dst = strconv.AppendInt(dst, s.total.Load(), 10)
	for i := range s.packets {
		if n := s.packets[i].Load(); n > 0 {
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

// Load reads figures written by AppendJSON (the statDumpFile) into s.
func (s *Stats) Load(r io.Reader) error {
	var in struct {
		FaultStat   map[string]int64
		PacketCount map[string]int64
	}
	var raw map[string]json.RawMessage
	if err := json.NewDecoder(r).Decode(&raw); err != nil {
		return fmt.Errorf("stats: %w", err)
	}
	for name, dst := range map[string]*atomic.Int64{"securedAmount": &s.secured, "processedAmount": &s.processed,
		"refundAmount": &s.refund, "reversalAmount": &s.reversal} {
		v, ok := raw[name]
		if !ok {
			continue
		}
		minor, err := parseAmount(string(v))
		if err != nil {
			return fmt.Errorf("stats: %s: %w", name, err)
		}
		dst.Store(minor)
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
	s.mu.Lock()
	for c, n := range in.FaultStat {
		s.faults[c] = n
	}
	s.mu.Unlock()
	for k, n := range in.PacketCount {
		if k == "total" {
			s.total.Store(n)
			continue
		}
		m, err := isocodec.ParseMTI(k)
		if i, ok := m.Number(); err == nil && ok {
			s.packets[i].Store(n)
		}
	}
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

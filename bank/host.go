package bank

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"

	"github.com/socketqueue/socketqueue-go/clock"
	"github.com/socketqueue/socketqueue-go/isocodec"
)

// HostConfig is what a Host is made of. Only Dialect is required.
type HostConfig struct {
	Dialect *isocodec.Dialect
	Ledger  *Ledger     // NewLedger(0) when nil
	Clock   clock.Clock // the machine's when nil
	Faults  Faults
	// Rand drives the random faults; a generator seeded from Seed when nil.
	Rand Rand
	Seed uint64
}

// Host decides the reply to each request by the rules in docs/emulator.md. It is
// safe for concurrent use: the ledger and the faults lock themselves.
type Host struct {
	// busy counts, per terminal, its requests decided and not yet
	// answered (across every port): two at once is an overlap.
	busyMu sync.Mutex
	busy   map[string]int
	d      *isocodec.Dialect
	codes  Codes
	code   codeBytes
	ledger *Ledger
	clock  clock.Clock
	faults faultState
	seq    atomic.Uint64 // RRNs and approval codes
}

// keyFields name the original of a reversal that carries no RRN.
var keyFields = []int{11, 41}

// Fields a reply does not repeat: card data and the PIN block belong to
// the request only.
var dropFromReply = [...]int{14, 35, 45, 52, 55}

// NewHost checks cfg and makes a Host.
func NewHost(cfg HostConfig) (*Host, error) {
	if cfg.Dialect == nil {
		return nil, errors.New("bank: no dialect")
	}
	h := &Host{d: cfg.Dialect, codes: CodesFor(cfg.Dialect), ledger: cfg.Ledger, clock: cfg.Clock}
	h.code = h.codes.bytes()
	if h.ledger == nil {
		h.ledger = NewLedger(0)
	}
	if h.clock == nil {
		h.clock = clock.System{}
	}
	f := cfg.Faults
	if f.Code != "" {
		def, ok := cfg.Dialect.Field(39)
		if !ok || len(f.Code) != def.Length {
			return nil, fmt.Errorf("bank: forced code %q: field 39 takes %d characters", f.Code, def.Length)
		}
	}
	if f.MuteEvery < 0 || f.Delay < 0 || f.Jitter < 0 || f.CodeCount < 0 {
		return nil, errors.New("bank: fault settings must not be negative")
	}
	h.faults.cfg = f
	h.faults.code = []byte(f.Code)
	h.faults.rand = cfg.Rand
	if h.faults.rand == nil {
		h.faults.rand = rand.New(rand.NewPCG(cfg.Seed, cfg.Seed^0x9e3779b97f4a7c15))
	}
	// RRNs start from the clock so that a restarted emulator does not
	// hand out the RRNs it gave before, as far as a 12-digit number can.
	h.seq.Store(uint64(h.clock.Now().Unix()%1_000_000) * 1_000_000)
	return h, nil
}

// Ledger is the host's ledger.
func (h *Host) Ledger() *Ledger { return h.ledger }

// Dialect is the host's dialect.
func (h *Host) Dialect() *isocodec.Dialect { return h.d }

// Answer decides what to do with one request (msg, unframed) and appends
// the reply to dst. s is scratch for the scan. An error means msg is not
// a message at all and nothing was decided; the caller closes the
// connection, as a host does with garbage.
func (h *Host) Answer(dst, msg []byte, s *isocodec.Scan) ([]byte, Decision, error) {
	if err := h.d.Layout.Scan(msg, s); err != nil {
		return dst, Decision{}, fmt.Errorf("bank: %w", err)
	}
	mti := s.MTI
	if mti.IsResponse() {
		// Nobody asked; answering a response would start a ping-pong.
		h.ledger.count(func(t *Totals) { t.Unsupported++ })
		return dst, Decision{Silent: true}, nil
	}
	resp := mti.Response()
	money := mti == isocodec.MTIPurchase
	dec := h.faults.draw(mti, money)
	if dec.Code != "" {
		h.ledger.count(func(t *Totals) { t.Forced++ })
		return h.build(dst, msg, s, resp, dec, isocodec.Set(39, h.faults.code))
	}
	switch {
	case mti.Class() == '8':
		switch h.networkCode(msg, s) {
		case "001":
			h.ledger.count(func(t *Totals) { t.SignOns++ })
		case "002":
			h.ledger.count(func(t *Totals) { t.SignOffs++ })
		default:
			h.ledger.count(func(t *Totals) { t.Echoes++ })
		}
		var clock [10]byte
		var rrn [12]byte
		h.nextRRN(&rrn)
		return h.build(dst, msg, s, resp, dec,
			isocodec.Set(7, isocodec.AppendTransmissionTime(clock[:0], h.clock.Now().UTC())),
			isocodec.Set(37, rrn[:]), isocodec.Set(39, h.code.approved),
			isocodec.Remove(24), isocodec.Remove(42))
	case money:
		return h.purchase(dst, msg, s, resp, dec)
	case mti.Class() == '4' && (mti[2] == '0' || mti[2] == '2'):
		return h.reversal(dst, msg, s, resp, dec)
	default:
		h.ledger.count(func(t *Totals) { t.Unsupported++ })
		return h.build(dst, msg, s, resp, dec, isocodec.Set(39, h.code.notSupported))
	}
}

// enter notes a terminal's request as at the bank until leave, counting
// an overlap when another of its requests is there; it returns the
// terminal ("" for none: network messages and messages without 41).
func (h *Host) enter(msg []byte, s *isocodec.Scan) string {
	if s.MTI.Class() == '8' || s.MTI.IsResponse() || !s.Has(41) {
		return ""
	}
	var buf [16]byte
	tid := string(h.d.Layout.AppendText(buf[:0], s, msg, 41))
	h.busyMu.Lock()
	if h.busy == nil {
		h.busy = map[string]int{}
	}
	h.busy[tid]++
	overlap := h.busy[tid] > 1
	h.busyMu.Unlock()
	if overlap {
		h.ledger.count(func(t *Totals) { t.Overlaps++ })
	}
	return tid
}

// leave ends what enter began.
func (h *Host) leave(tid string) {
	if tid == "" {
		return
	}
	h.busyMu.Lock()
	if h.busy[tid]--; h.busy[tid] <= 0 {
		delete(h.busy, tid)
	}
	h.busyMu.Unlock()
}

// networkCode is a network message's field 70 (sign-on 001, sign-off
// 002, echo 301), "" without it.
func (h *Host) networkCode(msg []byte, s *isocodec.Scan) string {
	if !s.Has(70) {
		return ""
	}
	var buf [8]byte
	return string(h.d.Layout.AppendText(buf[:0], s, msg, 70))
}

// IsSignOn reports whether msg, scanned into s, asks to sign on.
func (h *Host) IsSignOn(msg []byte, s *isocodec.Scan) bool {
	return s.MTI.Class() == '8' && !s.MTI.IsResponse() && h.networkCode(msg, s) == "001"
}

// DeclineSignOn turns reply, the approval of a sign-on, into a refusal,
// counted.
func (h *Host) DeclineSignOn(dst, reply []byte) ([]byte, error) {
	var s isocodec.Scan
	if err := h.d.Layout.Scan(reply, &s); err != nil {
		return dst, err
	}
	h.ledger.count(func(t *Totals) { t.SignOnsDeclined++ })
	return h.d.Layout.AppendEdited(dst, s.MTI, reply, &s, isocodec.Set(39, h.code.notSupported))
}

func (h *Host) purchase(dst, msg []byte, s *isocodec.Scan, resp isocodec.MTI, dec Decision) ([]byte, Decision, error) {
	var panText [40]byte
	pan, okPAN := h.pan(panText[:0], msg, s)
	amount, okAmount := h.amount(msg, s)
	if !okPAN || !okAmount {
		h.ledger.count(func(t *Totals) { t.Invalid++ })
		return h.build(dst, msg, s, resp, dec, isocodec.Set(39, h.code.noCardOrAmount))
	}
	if errs := h.d.Check(msg, s, isocodec.CheckOptions{}, nil); len(errs) > 0 {
		h.ledger.count(func(t *Totals) { t.Invalid++ })
		return h.build(dst, msg, s, resp, dec, isocodec.Set(39, h.code.invalid))
	}
	var kind TxKind
	switch h.processing(msg, s) {
	case "00":
		kind = Purchase
	case "20":
		kind = Refund
	default:
		h.ledger.count(func(t *Totals) { t.Unsupported++ })
		return h.build(dst, msg, s, resp, dec, isocodec.Set(39, h.code.notSupported))
	}

	if kind == Purchase {
		var code [3]byte
		if n := h.magicCode(&code, amount); n > 0 {
			h.ledger.count(func(t *Totals) { t.Declined++ })
			return h.build(dst, msg, s, resp, dec, isocodec.Set(39, code[:n]))
		}
		if bal, ok := magic(amount, 888); ok {
			h.ledger.SetBalance(pan, bal)
			return h.build(dst, msg, s, resp, dec, isocodec.Set(39, h.code.approved))
		}
	}

	tx := Tx{PAN: pan, Amount: amount, At: h.clock.Now(), Muted: dec.Silent || dec.Close}
	tx.Key = tx.Key.Append(s, msg, keyFields)
	h.textInto(tx.TID[:], msg, s, 41)
	h.textInto(tx.STAN[:], msg, s, 11)
	h.nextRRN(&tx.RRN)
	if kind == Purchase {
		if !h.ledger.Debit(tx) {
			return h.build(dst, msg, s, resp, dec, isocodec.Set(39, h.code.noFunds))
		}
	} else {
		h.ledger.Credit(tx)
	}
	var auth [6]byte
	approvalCode(&auth, tx.RRN)
	return h.build(dst, msg, s, resp, dec,
		isocodec.Set(2, pan.b[:pan.n]), isocodec.Set(37, tx.RRN[:]), isocodec.Set(38, auth[:]),
		isocodec.Set(39, h.code.approved))
}

func (h *Host) reversal(dst, msg []byte, s *isocodec.Scan, resp isocodec.MTI, dec Decision) ([]byte, Decision, error) {
	if errs := h.d.Check(msg, s, isocodec.CheckOptions{}, nil); len(errs) > 0 {
		h.ledger.count(func(t *Totals) { t.Invalid++ })
		return h.build(dst, msg, s, resp, dec, isocodec.Set(39, h.code.invalid))
	}
	var q Lookup
	var panText [40]byte
	q.PAN, q.HasPAN = h.pan(panText[:0], msg, s)
	if s.Has(4) {
		if q.Amount, q.HasAmount = h.amount(msg, s); !q.HasAmount {
			h.ledger.count(func(t *Totals) { t.Invalid++ })
			return h.build(dst, msg, s, resp, dec, isocodec.Set(39, h.code.invalid))
		}
	}
	if s.Has(37) && s.Units(37) == len(q.RRN) {
		h.textInto(q.RRN[:], msg, s, 37)
		q.HasRRN = true
	}
	q.Key = q.Key.Append(s, msg, keyFields)
	code := h.code.notFound
	if res, _ := h.ledger.Reverse(q); res != NotFound {
		code = h.code.approved
	}
	return h.build(dst, msg, s, resp, dec, isocodec.Set(39, code))
}

// build appends the reply: the request's fields with edits, minus what a
// reply does not repeat.
func (h *Host) build(dst, msg []byte, s *isocodec.Scan, resp isocodec.MTI, dec Decision, edits ...isocodec.Edit) ([]byte, Decision, error) {
	var all [16]isocodec.Edit
	n := 0
	for _, e := range edits { // copy() would make escape analysis give up
		all[n] = e
		n++
	}
	if resp.Class() != '8' {
		for _, id := range dropFromReply {
			all[n] = isocodec.Remove(id)
			n++
		}
	}
	out, err := h.d.Layout.AppendEdited(dst, resp, msg, s, all[:n]...)
	if err != nil {
		// Only a dialect that cannot hold the host's own values gets
		// here (a custom field 37 shorter than 12, say).
		return dst, Decision{}, fmt.Errorf("bank: building %s: %w", resp, err)
	}
	return out, dec, nil
}

// pan reads the card number from field 2, else from track 2 (35).
func (h *Host) pan(buf []byte, msg []byte, s *isocodec.Scan) (PAN, bool) {
	id := 2
	if !s.Has(2) {
		id = 35
	}
	if !s.Has(id) || s.Units(id) > cap(buf) {
		return PAN{}, false
	}
	return PANOf(h.d.Layout.AppendText(buf, s, msg, id))
}

// amount reads field 4 as minor units.
func (h *Host) amount(msg []byte, s *isocodec.Scan) (int64, bool) {
	return h.d.Layout.Number(s, msg, 4)
}

// processing is the transaction type: field 3's first two digits.
func (h *Host) processing(msg []byte, s *isocodec.Scan) string {
	var buf [6]byte
	if s.Units(3) != len(buf) {
		return ""
	}
	t := h.d.Layout.AppendText(buf[:0], s, msg, 3)
	switch string(t[:2]) {
	case "00":
		return "00"
	case "20":
		return "20"
	}
	return "other"
}

// magicCode: an amount ending in 777 asks for the digits before it as the
// response code, when that is a code the dialect knows. It writes the
// code to dst and returns its length, or 0.
func (h *Host) magicCode(dst *[3]byte, amount int64) int {
	v, ok := magic(amount, 777)
	n := len(h.code.approved)
	if !ok || n > len(dst) || v >= int64(pow10(n)) {
		return 0
	}
	for i := n - 1; i >= 0; i-- {
		dst[i] = '0' + byte(v%10)
		v /= 10
	}
	code := dst[:n]
	if _, known := h.d.Rules.ResponseCodes[string(code)]; !known || string(code) == string(h.code.approved) {
		return 0
	}
	return n
}

// magic reports the digits of amount before a trailing suffix (777, 888).
func magic(amount, suffix int64) (int64, bool) {
	if amount < 1000 || amount%1000 != suffix {
		return 0, false
	}
	return amount / 1000, true
}

func pow10(n int) int {
	v := 1
	for range n {
		v *= 10
	}
	return v
}

// textInto copies field id's text into a fixed array, right-aligned so a
// short value keeps its digits where the array expects them.
func (h *Host) textInto(dst []byte, msg []byte, s *isocodec.Scan, id int) {
	var buf [64]byte
	if s.Units(id) > len(buf) {
		return
	}
	t := h.d.Layout.AppendText(buf[:0], s, msg, id)
	if len(t) > len(dst) {
		t = t[len(t)-len(dst):]
	}
	copy(dst[len(dst)-len(t):], t)
}

func (h *Host) nextRRN(dst *[12]byte) {
	v := h.seq.Add(1) % 1_000_000_000_000
	for i := 11; i >= 0; i-- {
		dst[i] = '0' + byte(v%10)
		v /= 10
	}
}

// approvalCode derives a 6-character code from the RRN, so each approval
// has its own without another counter.
func approvalCode(dst *[6]byte, rrn [12]byte) {
	const digits = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	var v uint64
	for _, c := range rrn {
		v = v*10 + uint64(c-'0')
	}
	v *= 0x9e3779b97f4a7c15 // spread consecutive RRNs over the code space
	for i := 5; i >= 0; i-- {
		dst[i] = digits[v%36]
		v /= 36
	}
}

package bank

import (
	"hash/maphash"
	"slices"
	"sync"
	"time"

	"github.com/socketqueue/socketqueue-go/isocodec"
)

// DefaultBalance is what a card's account holds on first use, in minor
// units (1000.00).
const DefaultBalance = 100000

// DefaultHistory bounds the transactions kept for reversal lookups: at a
// few hundred bytes each, a million is a few hundred MiB at most, and a
// reversal older than a million transactions is one a partner test does
// not make.
const DefaultHistory = 1 << 20

// TxKind says what a transaction did to its account.
type TxKind uint8

const (
	// Purchase debited the account.
	Purchase TxKind = iota + 1
	// Refund credited it.
	Refund
)

func (k TxKind) String() string {
	switch k {
	case Purchase:
		return "purchase"
	case Refund:
		return "refund"
	}
	return "unknown"
}

// Tx is one approved purchase or refund, kept so that a reversal can find
// it by RRN or by terminal and trace number.
type Tx struct {
	Seq    uint64
	Kind   TxKind
	PAN    PAN
	Amount int64
	RRN    [12]byte
	Key    isocodec.Key // fields 11 and 41 as on the wire
	TID    [8]byte      // text, for the snapshot
	STAN   [6]byte
	At     time.Time
	// Muted means approved and deliberately never answered (Faults).
	Muted bool
	// Reversals counts the reversal requests that found this transaction;
	// only the first moved money.
	Reversals int
}

// Totals are the ledger's running figures; amounts in minor units.
type Totals struct {
	Echoes            int64 `json:"echoes"`
	SignOns           int64 `json:"signOns"`  // 0800 with 70 = 001
	SignOffs          int64 `json:"signOffs"` // 0800 with 70 = 002
	SignOnsDeclined   int64 `json:"signOnsDeclined"`
	Purchases         int64 `json:"purchases"` // 0200s with a card and an amount
	Approved          int64 `json:"approved"`
	Declined          int64 `json:"declined"`
	Refunds           int64 `json:"refunds"`
	Reversals         int64 `json:"reversals"` // first reversals that moved money
	RepeatedReversals int64 `json:"repeatedReversals"`
	ReversalsNotFound int64 `json:"reversalsNotFound"`
	Muted             int64 `json:"muted"`
	// Overlaps are requests that came for a terminal while another of
	// its requests was still unanswered, on any port.
	Overlaps       int64 `json:"overlaps"`
	Forced         int64 `json:"forced"` // answered with a configured code
	Invalid        int64 `json:"invalid"`
	Unsupported    int64 `json:"unsupported"`
	BalancesSet    int64 `json:"balancesSet"`
	ApprovedAmount int64 `json:"approvedAmount"`
	RefundAmount   int64 `json:"refundAmount"`
	ReversedAmount int64 `json:"reversedAmount"`
}

// Ledger is the accounts and recent transactions of the emulated bank. It
// is safe for concurrent use; one short critical section per request.
type Ledger struct {
	mu       sync.Mutex
	opening  int64
	accounts map[PAN]int64
	// Transaction seq s lives in slot (s-1)%history of chunks, which
	// grow a chunk at a time so that a long run never copies the history.
	chunks  [][]Tx
	slots   uint64 // slots allocated so far
	history uint64
	next    uint64 // seq of the next transaction
	// Indexes by a 64-bit hash of the RRN and of the key: a long key
	// hashed and compared at every probe cost the emulator a quarter of
	// its time. A lookup checks the transaction it finds, so a collision
	// can only hide an older transaction, never return a wrong one.
	byRRN  map[uint64]uint64
	byKey  map[uint64]uint64
	seed   maphash.Seed
	totals Totals
}

// NewLedger makes an empty ledger keeping up to history transactions
// (DefaultHistory when 0).
func NewLedger(history int) *Ledger {
	if history <= 0 {
		history = DefaultHistory
	}
	return &Ledger{
		opening:  DefaultBalance,
		accounts: make(map[PAN]int64),
		next:     1,
		byRRN:    make(map[uint64]uint64),
		byKey:    make(map[uint64]uint64),
		seed:     maphash.MakeSeed(),
		history:  uint64(history),
	}
}

// balance returns p's account, opening it on first use. Callers hold mu.
func (l *Ledger) balance(p PAN) int64 {
	b, ok := l.accounts[p]
	if !ok {
		b = l.opening
		l.accounts[p] = b
	}
	return b
}

// txChunk is how many transactions one allocation of history holds.
const txChunk = 4096

// record keeps tx, forgetting the oldest transaction once history is
// full. Callers hold mu.
func (l *Ledger) record(tx Tx) {
	tx.Seq = l.next
	l.next++
	i := (tx.Seq - 1) % l.history
	if i >= l.slots {
		l.chunks = append(l.chunks, make([]Tx, min(txChunk, l.history-l.slots)))
		l.slots += uint64(len(l.chunks[len(l.chunks)-1]))
	}
	slot := &l.chunks[i/txChunk][i%txChunk]
	if slot.Seq != 0 {
		if h := l.rrnHash(&slot.RRN); l.byRRN[h] == slot.Seq {
			delete(l.byRRN, h)
		}
		if h := l.keyHash(&slot.Key); l.byKey[h] == slot.Seq {
			delete(l.byKey, h)
		}
	}
	*slot = tx
	if tx.Muted {
		l.totals.Muted++
	}
	l.byRRN[l.rrnHash(&tx.RRN)] = tx.Seq
	l.byKey[l.keyHash(&tx.Key)] = tx.Seq
}

func (l *Ledger) rrnHash(rrn *[12]byte) uint64 { return maphash.Bytes(l.seed, rrn[:]) }

func (l *Ledger) keyHash(k *isocodec.Key) uint64 { return maphash.Bytes(l.seed, k.Bytes()) }

// get returns transaction seq if it is still kept. Callers hold mu.
func (l *Ledger) get(seq uint64) *Tx {
	if seq == 0 || seq >= l.next || l.next-seq > l.history {
		return nil
	}
	i := (seq - 1) % l.history
	return &l.chunks[i/txChunk][i%txChunk]
}

// Debit approves a purchase of tx.Amount when the account holds it, and
// records it. It reports false, touching nothing, when funds are short.
func (l *Ledger) Debit(tx Tx) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.totals.Purchases++
	b := l.balance(tx.PAN)
	if b < tx.Amount {
		l.totals.Declined++
		return false
	}
	l.accounts[tx.PAN] = b - tx.Amount
	tx.Kind = Purchase
	l.record(tx)
	l.totals.Approved++
	l.totals.ApprovedAmount += tx.Amount
	return true
}

// Credit approves a refund and records it.
func (l *Ledger) Credit(tx Tx) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.accounts[tx.PAN] = l.balance(tx.PAN) + tx.Amount
	tx.Kind = Refund
	l.record(tx)
	l.totals.Refunds++
	l.totals.RefundAmount += tx.Amount
}

// SetBalance sets p's balance (the 888 magic amount).
func (l *Ledger) SetBalance(p PAN, v int64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.accounts[p] = v
	l.totals.BalancesSet++
}

// Lookup says how a reversal names its original. By RRN when HasRRN (the
// PAN, when given, must match); else by Key (terminal and trace number).
// An amount, when given, must equal the original's.
type Lookup struct {
	RRN       [12]byte
	HasRRN    bool
	Key       isocodec.Key
	PAN       PAN
	HasPAN    bool
	Amount    int64
	HasAmount bool
}

// ReverseResult is what a reversal found.
type ReverseResult uint8

const (
	// NotFound: no such original; nothing moved.
	NotFound ReverseResult = iota
	// Reversed: the original's money went back.
	Reversed
	// AlreadyReversed: found, reversed before; nothing moved this time.
	AlreadyReversed
)

// Reverse finds the original and undoes it once.
func (l *Ledger) Reverse(q Lookup) (ReverseResult, Tx) {
	l.mu.Lock()
	defer l.mu.Unlock()
	var tx *Tx
	if q.HasRRN {
		if tx = l.get(l.byRRN[l.rrnHash(&q.RRN)]); tx != nil && tx.RRN != q.RRN {
			tx = nil
		}
	} else if tx = l.get(l.byKey[l.keyHash(&q.Key)]); tx != nil && tx.Key != q.Key {
		tx = nil
	}
	if tx == nil || q.HasPAN && tx.PAN != q.PAN || q.HasAmount && tx.Amount != q.Amount {
		l.totals.ReversalsNotFound++
		return NotFound, Tx{}
	}
	tx.Reversals++
	if tx.Reversals > 1 {
		l.totals.RepeatedReversals++
		return AlreadyReversed, *tx
	}
	switch tx.Kind {
	case Purchase:
		l.accounts[tx.PAN] = l.balance(tx.PAN) + tx.Amount
	case Refund:
		l.accounts[tx.PAN] = l.balance(tx.PAN) - tx.Amount
	}
	l.totals.Reversals++
	l.totals.ReversedAmount += tx.Amount
	return Reversed, *tx
}

// count adds to a figure that no account operation covers.
func (l *Ledger) count(f func(*Totals)) {
	l.mu.Lock()
	f(&l.totals)
	l.mu.Unlock()
}

// Balance is p's balance, and whether the account exists yet.
func (l *Ledger) Balance(p PAN) (int64, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	b, ok := l.accounts[p]
	return b, ok
}

// Totals returns the running figures.
func (l *Ledger) Totals() Totals {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.totals
}

// Transactions returns the kept transactions, oldest first.
func (l *Ledger) Transactions() []Tx {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make([]Tx, 0, min(l.next-1, l.history))
	first := uint64(1)
	if l.next-1 > l.history {
		first = l.next - l.history
	}
	for s := first; s < l.next; s++ {
		out = append(out, *l.get(s))
	}
	return out
}

// Accounts returns every account's PAN and balance, in PAN order.
func (l *Ledger) Accounts() []Account {
	l.mu.Lock()
	out := make([]Account, 0, len(l.accounts))
	for p, b := range l.accounts {
		out = append(out, Account{PAN: p, Balance: b})
	}
	l.mu.Unlock()
	slices.SortFunc(out, func(a, b Account) int {
		if a.PAN.Digits() < b.PAN.Digits() {
			return -1
		}
		if a.PAN.Digits() > b.PAN.Digits() {
			return 1
		}
		return 0
	})
	return out
}

// Account is one card's balance.
type Account struct {
	PAN     PAN
	Balance int64
}

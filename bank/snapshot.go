package bank

import (
	"net/http"
	"strconv"
	"time"

	json "github.com/goccy/go-json"
)

// Snapshot is the ledger as GET /bank shows it.
type Snapshot struct {
	OpeningBalance int64        `json:"openingBalance"`
	Totals         Totals       `json:"totals"`
	Accounts       []AccountRow `json:"accounts"`
	// Transactions are the most recent ones, oldest first.
	Transactions []TxRow `json:"transactions"`
	Kept         int     `json:"transactionsKept"`
}

// AccountRow is one account; PAN masked unless asked otherwise.
type AccountRow struct {
	PAN     string `json:"pan"`
	Balance int64  `json:"balance"`
}

// TxRow is one transaction.
type TxRow struct {
	Seq       uint64    `json:"seq"`
	Kind      string    `json:"kind"`
	PAN       string    `json:"pan"`
	Amount    int64     `json:"amount"`
	RRN       string    `json:"rrn"`
	TID       string    `json:"tid"`
	STAN      string    `json:"stan"`
	At        time.Time `json:"at"`
	Muted     bool      `json:"muted,omitempty"`
	Reversals int       `json:"reversals"`
}

// Snapshot copies the ledger: all accounts and up to limit of the most
// recent transactions (all when limit < 0). PANs are masked unless
// dangerous.
func (l *Ledger) Snapshot(limit int, dangerous bool) Snapshot {
	show := func(p PAN) string {
		if dangerous {
			return p.Digits()
		}
		return p.Masked()
	}
	txs := l.Transactions()
	snap := Snapshot{OpeningBalance: l.opening, Totals: l.Totals(), Kept: len(txs),
		Accounts: []AccountRow{}, Transactions: []TxRow{}}
	for _, a := range l.Accounts() {
		snap.Accounts = append(snap.Accounts, AccountRow{PAN: show(a.PAN), Balance: a.Balance})
	}
	if limit >= 0 && len(txs) > limit {
		txs = txs[len(txs)-limit:]
	}
	for _, tx := range txs {
		snap.Transactions = append(snap.Transactions, TxRow{
			Seq: tx.Seq, Kind: tx.Kind.String(), PAN: show(tx.PAN), Amount: tx.Amount,
			RRN: string(tx.RRN[:]), TID: string(tx.TID[:]), STAN: string(tx.STAN[:]),
			At: tx.At, Muted: tx.Muted, Reversals: tx.Reversals,
		})
	}
	return snap
}

// DefaultSnapshotLimit is how many transactions GET /bank shows unless
// ?limit= says otherwise.
const DefaultSnapshotLimit = 1000

// Handler serves GET /bank: the ledger snapshot as JSON. ?limit=N shows N
// transactions (-1 for all).
func Handler(l *Ledger, dangerous bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/bank" {
			http.NotFound(w, r)
			return
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		limit := DefaultSnapshotLimit
		if v := r.URL.Query().Get("limit"); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil {
				http.Error(w, "limit: want a number", http.StatusBadRequest)
				return
			}
			limit = n
		}
		body, err := json.MarshalIndent(l.Snapshot(limit, dangerous), "", "  ")
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write(append(body, '\n'))
	})
}

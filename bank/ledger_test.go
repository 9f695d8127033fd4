package bank

import "testing"

// TestLedgerHistory: once history is full the oldest transactions are
// forgotten (a reversal no longer finds them) and the rest still are.
func TestLedgerHistory(t *testing.T) {
	l := NewLedger(3)
	card, _ := PANOf([]byte("4850781234567891"))
	var rrns [][12]byte
	for i := range 5 {
		var tx Tx
		tx.PAN, tx.Amount = card, 10
		tx.RRN = [12]byte{'0', '0', '0', '0', '0', '0', '0', '0', '0', '0', '0', '1' + byte(i)}
		if !l.Debit(tx) {
			t.Fatal("declined")
		}
		rrns = append(rrns, tx.RRN)
	}
	if got := len(l.Transactions()); got != 3 {
		t.Fatalf("%d kept, want 3", got)
	}
	for i, rrn := range rrns {
		res, _ := l.Reverse(Lookup{RRN: rrn, HasRRN: true})
		if want := i >= 2; (res == Reversed) != want {
			t.Fatalf("transaction %d: result %d", i, res)
		}
	}
	if b, _ := l.Balance(card); b != DefaultBalance-20 {
		t.Fatalf("balance %d", b)
	}
}

func TestPANOf(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want string
		ok   bool
	}{
		{"4850781234567891", "4850781234567891", true},
		{"4850781234567891=1908", "4850781234567891", true},
		{"4850781234567891D1908", "4850781234567891", true},
		{"48507812345", "", false},
		{"48507812345678901234", "", false},
		{"4850781234x67891", "", false},
	} {
		p, ok := PANOf([]byte(tc.in))
		if ok != tc.ok || ok && p.Digits() != tc.want {
			t.Errorf("PANOf(%q) = %q, %v", tc.in, p.Digits(), ok)
		}
	}
	p, _ := PANOf([]byte("4850781234567891"))
	if p.Masked() != "485078******7891" {
		t.Errorf("masked %q", p.Masked())
	}
}

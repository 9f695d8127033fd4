package reversal

import (
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/socketqueue/socketqueue-go/isocodec"
)

// sharedStore is a Store shared with other instances whose ownership of
// each purchase the test sets.
type sharedStore struct{ own map[uint64]Ownership }

func (s *sharedStore) Settle(uint64)                 {}
func (s *sharedStore) Reversing(*Reversal)           {}
func (s *sharedStore) GiveUp(*Reversal)              {}
func (s *sharedStore) Pending() ([]*Reversal, error) { return nil, nil }
func (s *sharedStore) Owns(id uint64) Ownership      { return s.own[id] }

// TestReverserOwnership: on a shared store a reversal this instance owns
// is sent; one it is unsure of (its lease lapsed) waits, its tries not
// counted, and is sent once it is owned again; one lost to another
// instance is dropped, never sent.
func TestReverserOwnership(t *testing.T) {
	original, err := isocodec.SmartVista.Pack(isocodec.Fields{
		0: "0200", 3: "000000", 4: "000000000100", 7: "1125120000", 11: "000001", 12: "251125120000",
		22: "051", 24: "200", 25: "00", 35: "4850781234567891=19082012232800000037", 41: "00000001",
		42: "000124642124643", 49: "810",
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		// then: the ownership once the lease is renewed.
		first, then Ownership
		wantSent    bool
	}{
		{"owned", Owned, Owned, true},
		{"unsure, then owned", Unsure, Owned, true},
		{"unsure, then lost", Unsure, Lost, false},
		{"lost", Lost, Lost, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := &sharedStore{own: map[uint64]Ownership{7: tc.first}}
			x := New(Config{Dialect: isocodec.SmartVista, Store: st, Log: zerolog.Nop()})
			now := t0
			x.Decide(7, original, "test", now)
			due := x.Due(now, nil)
			if tc.first == Unsure {
				if len(due) != 0 || x.Schedule().Len() != 1 {
					t.Fatalf("unsure: %d sent, %d pending; want 0, 1", len(due), x.Schedule().Len())
				}
				if again := x.Due(now.Add(unsureWait-time.Millisecond), nil); len(again) != 0 {
					t.Fatal("asked again before unsureWait")
				}
				st.own[7] = tc.then
				now = now.Add(unsureWait)
				due = x.Due(now, nil)
			}
			if sent := len(due) == 1; sent != tc.wantSent {
				t.Fatalf("sent %v, want %v", sent, tc.wantSent)
			}
			if tc.wantSent {
				if rv := due[0].Reversal; rv.Tries != 1 || rv.Repeat() {
					t.Fatalf("try %d (repeat %v): the waits counted as tries", rv.Tries, rv.Repeat())
				}
				if c := x.Schedule().Counts(); c.Sent != 1 {
					t.Fatalf("%d counted sent, want 1", c.Sent)
				}
				return
			}
			if n := x.Schedule().Len(); n != 0 {
				t.Fatalf("%d pending after it was lost, want 0", n)
			}
		})
	}
}

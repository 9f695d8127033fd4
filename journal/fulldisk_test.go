package journal

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/socketqueue/socketqueue-go/internal/testdisk"
)

// TestFullDiskKeepsAnswers: the disk fills with purchases at the bank.
// New purchases are refused; the answers to those already sent are held,
// and written once there is room again (recovered), or kept at Close in
// the reserved file; either way the next Open has them settled, so none
// of them would be reversed.
func TestFullDiskKeepsAnswers(t *testing.T) {
	for _, tc := range []struct {
		name      string
		roomFirst bool // room is made while the journal runs, not after Close
		here      bool // committed by the caller (BeginLater, Wake), not the writer
	}{
		{"room made while running", true, false}, {"closed while full", false, false},
		{"room made while running, committed by the caller", true, true}, {"closed while full, committed by the caller", false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			disk := testdisk.Small(t, 1<<20)
			dir := filepath.Join(disk, "journal")
			j := open(t, dir, Options{NoSync: true, RetryEvery: 10 * time.Millisecond})
			beginOne := j.Begin
			if tc.here {
				beginOne = func(msg []byte, tag any) (uint64, error) {
					id, err := j.BeginLater(msg, tag)
					j.Wake()
					return id, err
				}
			}
			var mu sync.Mutex
			var states []error
			writesAgain := make(chan struct{})
			j.OnState(func(err error) {
				mu.Lock()
				defer mu.Unlock()
				if states = append(states, err); err == nil {
					close(writesAgain)
				}
			})
			refused := make(chan error, 1)
			j.Notify(func(batch []Begun, err error) {
				for _, b := range batch {
					if err != nil {
						select {
						case refused <- err:
						default:
						}
					}
					close(b.Tag.(chan struct{}))
				}
			})
			var sent []uint64 // at the bank, answers to come
			for i := range 20 {
				done := make(chan struct{})
				id, err := beginOne([]byte(fmt.Sprintf("purchase %d sent before the disk filled", i)), done)
				if err != nil {
					t.Fatal(err)
				}
				<-done
				sent = append(sent, id)
			}
			filler := testdisk.Fill(t, disk)
			msg := strings.Repeat("a purchase too many ", 200)
			for failed := false; !failed; {
				done := make(chan struct{})
				if _, err := beginOne([]byte(msg), done); err != nil {
					break
				}
				<-done
				select {
				case <-refused:
					failed = true
				default:
				}
			}
			if _, err := beginOne([]byte("after"), make(chan struct{})); err == nil {
				t.Fatal("Begin took a purchase on a full disk")
			}
			// The bank answers the first 15: their clients get them.
			for _, id := range sent[:15] {
				j.Settle(id)
			}
			if tc.roomFirst {
				os.Remove(filler)
				select {
				case <-writesAgain:
				case <-time.After(10 * time.Second):
					t.Fatalf("the journal did not write again with room on the disk: %v", j.Err())
				}
				if err := j.Err(); err != nil {
					t.Fatalf("told it writes again, but refuses: %v", err)
				}
				if _, err := beginOne([]byte("a purchase once there is room"), make(chan struct{})); err != nil {
					t.Fatalf("Begin after recovery: %v", err)
				}
				if err := j.Flush(); err != nil {
					t.Fatal(err)
				}
				if err := j.Close(); err != nil {
					t.Fatal(err)
				}
				mu.Lock()
				if len(states) < 2 || states[0] == nil || states[len(states)-1] != nil {
					t.Errorf("OnState told %v, want the failure then nil", states)
				}
				mu.Unlock()
			} else {
				err := j.Close()
				if err == nil || !strings.Contains(err.Error(), unrecordedName) {
					t.Fatalf("Close on a full disk: %v", err)
				}
				os.Remove(filler) // room made, then the restart
			}
			j = open(t, dir, Options{NoSync: true})
			defer j.Close()
			pend, err := j.Pending()
			if err != nil {
				t.Fatal(err)
			}
			var open []uint64
			for _, e := range pend {
				open = append(open, e.ID)
			}
			for i, id := range sent {
				if slices.Contains(open, id) != (i >= 15) {
					t.Errorf("purchase %d (answered: %v) open after restart: %v", i, i < 15, slices.Contains(open, id))
				}
			}
			want := 5
			if tc.roomFirst {
				want++ // the purchase taken after recovery
			}
			if len(open) != want {
				t.Errorf("%d open after restart, want the 5 unanswered: %v", len(open), open)
			}
			if _, err := os.Stat(filepath.Join(dir, unrecordedName)); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("%s left after it was applied: %v", unrecordedName, err)
			}
		})
	}
}

package cluster

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/socketqueue/socketqueue-go/journal"
	"github.com/socketqueue/socketqueue-go/reversal"
)

// TestRecorderOrphans: records in this instance's name that its recorder
// does not know, as a takeover or a hold whose acknowledgement was lost
// leaves them: one marked reversing is handed over to be reversed, once;
// one that is not is released (its purchase never went). A record being
// released (settled, its delete not yet acknowledged) and a hold under
// way are neither.
func TestRecorderOrphans(t *testing.T) {
	s := open(t, []*Node{startNode(t)}, "gw1", 3*time.Second)
	var mu sync.Mutex
	taken := map[string]int{}
	rec := NewRecorder(RecorderConfig{Store: s, Wait: time.Second, Log: zerolog.Nop(),
		TID: func(msg []byte) string { return string(msg[:8]) },
		Taken: func(_ uint64, msg []byte) {
			mu.Lock()
			taken[string(msg[:8])]++
			mu.Unlock()
		}})
	t.Cleanup(func() { rec.Close(5 * time.Second) })
	ctx := ctxT(t)

	// A takeover whose acknowledgement was lost: in our name, reversing.
	rev, _, err := s.Hold(ctx, "00000001", Record{Instance: "gw-gone", Msg: []byte("00000001 purchase")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Update(ctx, "00000001", rev, Record{Instance: "gw1", Msg: []byte("00000001 purchase"), Reversing: true}); err != nil {
		t.Fatal(err)
	}
	// A hold reported failed whose write was made.
	if _, _, err := s.Hold(ctx, "00000002", Record{Instance: "gw1", Msg: []byte("00000002 purchase")}); err != nil {
		t.Fatal(err)
	}
	// A purchase of ours, held through the recorder.
	begun := make(chan uint64, 1)
	rec.Notify(func(b []journal.Begun, err error) {
		if err != nil {
			t.Error(err)
		}
		begun <- b[0].ID
	})
	if _, err := rec.Begin([]byte("00000003 purchase"), nil); err != nil {
		t.Fatal(err)
	}
	ours := <-begun

	for range 3 {
		bctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		rec.beatOnce(bctx)
		cancel()
	}
	mu.Lock()
	if len(taken) != 1 || taken["00000001"] != 1 {
		t.Errorf("handed over to reverse: %v; want 00000001 once", taken)
	}
	mu.Unlock()
	waitFor(t, "the failed hold's record released", func() bool {
		free, _, _, err := s.last(ctx, "00000002")
		return err == nil && free
	})
	if free, _, _, err := s.last(ctx, "00000003"); err != nil || free || rec.Owns(ours) != reversal.Owned {
		t.Fatalf("our own purchase's record: free %v, ownership %v, %v", free, rec.Owns(ours), err)
	}
	rec.Settle(ours)
	bctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	rec.beatOnce(bctx) // whether or not the delete is acknowledged yet
	cancel()
	mu.Lock()
	if taken["00000003"] != 0 {
		t.Errorf("a settled purchase handed over to reverse")
	}
	mu.Unlock()
}

// TestRecorderReplacesSettled: a terminal's next purchase, coming while
// its last one's record lingers, replaces that record (one write); one
// that comes later finds it deleted; Close deletes what still lingers
// before it returns.
func TestRecorderReplacesSettled(t *testing.T) {
	s := open(t, []*Node{startNode(t)}, "gw1", 3*time.Second)
	// A linger long enough that b comes within it however loaded the
	// machine; a deleted record is waited for.
	rec := NewRecorder(RecorderConfig{Store: s, Wait: 2 * time.Second, Log: zerolog.Nop(), Linger: time.Second,
		TID: func(msg []byte) string { return string(msg[:8]) }, Taken: func(uint64, []byte) {}})
	begun := make(chan uint64, 1)
	rec.Notify(func(b []journal.Begun, err error) {
		if err != nil {
			t.Error(err)
		}
		begun <- b[0].ID
	})
	hold := func(msg string) uint64 {
		t.Helper()
		if _, err := rec.Begin([]byte(msg), nil); err != nil {
			t.Fatal(err)
		}
		return <-begun
	}
	ctx := ctxT(t)
	holding := func(tid string) string {
		free, _, h, err := s.last(ctx, tid)
		if err != nil {
			t.Fatal(err)
		}
		if free {
			return ""
		}
		return string(h.Msg)
	}
	a := hold("00000001 purchase a")
	rec.Settle(a)
	b := hold("00000001 purchase b")
	if got := holding("00000001"); got != "00000001 purchase b" || rec.Figures().Replaced.Load() != 1 {
		t.Fatalf("after b: record %q, %d replaced; want b's, 1", got, rec.Figures().Replaced.Load())
	}
	rec.Settle(b)
	waitFor(t, "b's record deleted after its linger", func() bool { return holding("00000001") == "" })
	c := hold("00000001 purchase c")
	if rec.Figures().Replaced.Load() != 1 {
		t.Errorf("c replaced a deleted record")
	}
	// A terminal busy here is deleted after maxChain replacements in a
	// row, for another instance waiting for it.
	before := rec.Figures().Replaced.Load()
	for i := range maxChain + 2 {
		rec.Settle(c)
		c = hold(fmt.Sprintf("00000001 purchase c%d", i))
	}
	if n := rec.Figures().Replaced.Load() - before; n != maxChain+1 {
		t.Errorf("%d replaced in %d holds; want %d (a delete after %d)", n, maxChain+2, maxChain+1, maxChain)
	}
	rec.Settle(c)
	if err := rec.Close(5 * time.Second); err != nil {
		t.Fatal(err)
	}
	if got := holding("00000001"); got != "" {
		t.Fatalf("after Close: record %q still there", got)
	}
}

// startNode starts one node, not clustered.
func startNode(t *testing.T) *Node {
	t.Helper()
	node, err := StartNode(NodeConfig{Name: "n1", Port: freePort(t), Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(node.Shutdown)
	return node
}

// TestRecorderLockRecords: a terminal held for a request that is not
// reversed (Lock) keeps other instances off it as a purchase's record
// does, but what a lapsed instance left of it is released, not
// reversed, by a survivor; and at a restart, by the instance itself.
func TestRecorderLockRecords(t *testing.T) {
	node := startNode(t)
	lease := time.Second
	tid := func(msg []byte) string { return string(msg[:8]) }
	newRec := func(s *Store, taken func(string)) *Recorder {
		// A wait past the lease: the survivor's request waits for the
		// lapsed instance's record.
		rec := NewRecorder(RecorderConfig{Store: s, Wait: 10 * time.Second, Log: zerolog.Nop(), TID: tid,
			Taken: func(_ uint64, msg []byte) { taken(tid(msg)) }})
		t.Cleanup(func() { rec.Close(5 * time.Second) })
		return rec
	}
	begun := func(rec *Recorder) chan error {
		ch := make(chan error, 4)
		rec.Notify(func(b []journal.Begun, err error) { ch <- err })
		return ch
	}
	ctx := ctxT(t)
	hold := func(rec *Recorder, done chan error, lock bool, msg string) {
		t.Helper()
		var err error
		if lock {
			_, err = rec.Lock([]byte(msg), nil)
		} else {
			_, err = rec.Begin([]byte(msg), nil)
		}
		if err == nil {
			err = <-done
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	record := func(s *Store, tid string) *Held { return recordOf(t, s, tid) }

	// Taken over by a survivor.
	dead := open(t, []*Node{node}, "gw-dead", lease)
	if err := dead.Heartbeat(ctx); err != nil {
		t.Fatal(err)
	}
	dr := newRec(dead, func(string) {})
	dd := begun(dr)
	hold(dr, dd, true, "00000011 balance inquiry")
	hold(dr, dd, false, "00000012 purchase")
	if h := record(dead, "00000011"); h == nil || !h.Lock {
		t.Fatalf("the lock's record: %+v, want one marked Lock", h)
	}
	alive := open(t, []*Node{node}, "gw-b", lease)
	var mu sync.Mutex
	taken := map[string]int{}
	ar := newRec(alive, func(tid string) { mu.Lock(); taken[tid]++; mu.Unlock() })
	other := begun(ar)
	if _, err := ar.Lock([]byte("00000011 another inquiry"), nil); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the survivor took over what the lapsed instance left", func() bool {
		bctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		ar.beatOnce(bctx)
		cancel()
		mu.Lock()
		defer mu.Unlock()
		return taken["00000012"] > 0
	})
	// The lapsed instance's inquiry released: the survivor's own, waiting
	// for the terminal meanwhile, gets it.
	if err := <-other; err != nil {
		t.Fatalf("the survivor's inquiry waiting for the terminal: %v", err)
	}
	mu.Lock()
	if len(taken) != 1 {
		t.Errorf("handed over to reverse: %v; want only the purchase 00000012", taken)
	}
	mu.Unlock()
	if h := record(alive, "00000011"); h == nil || h.Instance != "gw-b" || string(h.Msg) != "00000011 another inquiry" {
		t.Fatalf("terminal 00000011 after the takeover: %+v, want the survivor's inquiry", h)
	}

	// Left by an earlier run: released at the restart, not reversed.
	old := open(t, []*Node{node}, "gw-c", lease)
	or := newRec(old, func(string) {})
	od := begun(or)
	hold(or, od, true, "00000021 refund")
	hold(or, od, false, "00000022 purchase")
	restarted := newRec(open(t, []*Node{node}, "gw-c", lease), func(string) {})
	pending, err := restarted.Pending()
	if err != nil {
		t.Fatal(err)
	}
	if len(pending) != 1 || string(pending[0].Original) != "00000022 purchase" {
		t.Fatalf("pending at the restart: %d, want the purchase only", len(pending))
	}
	waitFor(t, "the earlier run's lock released", func() bool { return record(old, "00000021") == nil })
}

// TestRecorderLapse: past two thirds of its lease unrenewed, what this
// instance holds is Unsure; the next renewal makes what is still in its
// name Owned again and what another instance took meanwhile Lost.
func TestRecorderLapse(t *testing.T) {
	node := startNode(t)
	s := open(t, []*Node{node}, "gw1", time.Second)
	rec := NewRecorder(RecorderConfig{Store: s, Wait: time.Second, Log: zerolog.Nop(),
		TID: func(msg []byte) string { return string(msg[:8]) }, Taken: func(uint64, []byte) {}})
	t.Cleanup(func() { rec.Close(5 * time.Second) })
	begun := make(chan uint64, 2)
	rec.Notify(func(b []journal.Begun, err error) {
		if err != nil {
			t.Error(err)
		}
		begun <- b[0].ID
	})
	ctx := ctxT(t)
	if err := s.Heartbeat(ctx); err != nil {
		t.Fatal(err)
	}
	rec.renewed(time.Now())
	for _, m := range []string{"00000001 purchase kept", "00000002 purchase taken"} {
		if _, err := rec.Begin([]byte(m), nil); err != nil {
			t.Fatal(err)
		}
	}
	ids := map[string]uint64{}
	for range 2 {
		id := <-begun
		rec.mu.Lock()
		ids[string(rec.held[id].msg[:8])] = id
		rec.mu.Unlock()
	}
	kept, taken := ids["00000001"], ids["00000002"]
	if rec.Owns(kept) != reversal.Owned || rec.Owns(taken) != reversal.Owned {
		t.Fatal("fresh holds not owned")
	}
	waitFor(t, "the lease two thirds gone", func() bool { return rec.Owns(kept) == reversal.Unsure })
	// Another instance takes one over meanwhile, as TakeOver does; it
	// has read the other too, to take it next.
	other := open(t, []*Node{node}, "gw2", time.Second)
	_, _, h, err := other.last(ctx, "00000002")
	if err != nil {
		t.Fatal(err)
	}
	_, _, late, err := other.last(ctx, "00000001")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := other.Update(ctx, "00000002", h.Rev, Record{Instance: "gw2", Msg: h.Msg, Reversing: true}); err != nil {
		t.Fatal(err)
	}
	if rec.Owns(taken) != reversal.Unsure {
		t.Fatal("a record taken during the lapse is not Unsure before the renewal")
	}
	rec.beatOnce(ctx)
	waitFor(t, "the lapse ended", func() bool { return rec.lapse() == nil })
	if got := rec.Owns(kept); got != reversal.Owned {
		t.Errorf("still in this instance's name after the renewal: %v, want Owned", got)
	}
	if got := rec.Owns(taken); got != reversal.Lost {
		t.Errorf("taken by another during the lapse: %v, want Lost", got)
	}
	// The other's takeover of the record it read before the renewal
	// comes too late: the renewal rewrote it, so the takeover is fenced
	// and one instance only acts on it.
	if _, err := other.Update(ctx, "00000001", late.Rev, Record{Instance: "gw2", Msg: late.Msg, Reversing: true}); !errors.Is(err, ErrFenced) {
		t.Errorf("a takeover at the revision read during the lapse, after the renewal: %v, want ErrFenced", err)
	}
}

// TestRecorderHoldWaitsOutLapse: a purchase begun while the lease is
// lapsed is not recorded (nor sent) until the lapse ends.
func TestRecorderHoldWaitsOutLapse(t *testing.T) {
	node := startNode(t)
	s := open(t, []*Node{node}, "gw1", time.Second)
	rec := NewRecorder(RecorderConfig{Store: s, Wait: 10 * time.Second, Log: zerolog.Nop(),
		TID: func(msg []byte) string { return string(msg[:8]) }, Taken: func(uint64, []byte) {}})
	t.Cleanup(func() { rec.Close(5 * time.Second) })
	begun := make(chan error, 1)
	rec.Notify(func(b []journal.Begun, err error) { begun <- err })
	ctx := ctxT(t)
	waitFor(t, "the lease two thirds gone", func() bool { return rec.lapse() != nil })
	if _, err := rec.Begin([]byte("00000001 purchase"), nil); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-begun:
		t.Fatalf("recorded while the lease had lapsed: %v", err)
	case <-time.After(300 * time.Millisecond):
	}
	if h := recordOf(t, s, "00000001"); h != nil {
		t.Fatalf("written while the lease had lapsed: %+v", h)
	}
	rec.beatOnce(ctx)
	if err := <-begun; err != nil {
		t.Fatalf("after the renewal: %v", err)
	}
	if h := recordOf(t, s, "00000001"); h == nil || h.Instance != "gw1" {
		t.Fatalf("after the renewal: %+v, want the purchase's record", h)
	}
}

// recordOf reads tid's record (nil: none).
func recordOf(t *testing.T, s *Store, tid string) *Held {
	t.Helper()
	free, _, h, err := s.last(ctxT(t), tid)
	if err != nil {
		t.Fatal(err)
	}
	if free {
		return nil
	}
	return h
}

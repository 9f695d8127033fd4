package journal

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func open(t testing.TB, dir string, opts ...Options) *Journal {
	t.Helper()
	j, err := Open(dir, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return j
}

// durableSignals makes Notify close each Begin's tag, a channel, once
// its record is on disk, with the error if any.
func durableSignals(t testing.TB, j *Journal) {
	j.Notify(func(batch []Begun, err error) {
		for _, b := range batch {
			if err != nil {
				t.Error(err)
			}
			close(b.Tag.(chan struct{}))
		}
	})
}

func begin(t testing.TB, j *Journal, msg string) uint64 {
	t.Helper()
	done := make(chan struct{})
	id, err := j.Begin([]byte(msg), done)
	if err != nil {
		t.Fatal(err)
	}
	<-done
	return id
}

func TestBeginSettleReopen(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "journal")
	j := open(t, dir)
	durableSignals(t, j)
	var ids []uint64
	for i := range 5 {
		ids = append(ids, begin(t, j, fmt.Sprintf("msg %d", i)))
	}
	j.Settle(ids[1])
	next := time.Unix(1_700_000_000, 0)
	j.Reversing(Entry{ID: ids[2], Tries: 3, Next: next, Reason: "timeout", Msg: []byte("msg 2")})
	j.GiveUp(Entry{ID: ids[3], Tries: 10, Reason: "gave up", Msg: []byte("msg 3")})
	if err := j.Flush(); err != nil {
		t.Fatal(err)
	}
	if s := j.Stats(); s.Open != 3 {
		t.Fatalf("stats %+v, want 3 open", s)
	}
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}

	j = open(t, dir)
	defer j.Close()
	checkLive(t, j, ids, next)
	if s := j.Stats(); s.Open != 3 {
		t.Fatalf("stats after reopening %+v, want 3 open", s)
	}
	// New ids never reuse old ones.
	if id, _ := j.Begin(nil, nil); id <= ids[4] {
		t.Fatalf("id %d reused", id)
	}
}

// checkLive: of ids, 0 and 4 are open, 2 is being reversed, 3 was given
// up and 1 is settled.
func checkLive(t testing.TB, j *Journal, ids []uint64, next time.Time) {
	t.Helper()
	pend, err := j.Pending()
	if err != nil {
		t.Fatal(err)
	}
	if len(pend) != 3 || pend[0].ID != ids[0] || pend[1].ID != ids[2] || pend[2].ID != ids[4] {
		t.Fatalf("pending %+v", pend)
	}
	if e := pend[0]; e.State != Sent || string(e.Msg) != "msg 0" || e.Tries != 0 || !e.Next.IsZero() {
		t.Fatalf("open record %+v", e)
	}
	if e := pend[1]; e.State != Reversing || e.Tries != 3 || !e.Next.Equal(next) || e.Reason != "timeout" || string(e.Msg) != "msg 2" {
		t.Fatalf("reversing record %+v", e)
	}
	gave, err := j.GaveUp()
	if err != nil {
		t.Fatal(err)
	}
	if len(gave) != 1 || gave[0].ID != ids[3] || gave[0].Tries != 10 || gave[0].State != GaveUp || string(gave[0].Msg) != "msg 3" {
		t.Fatalf("gave up %+v", gave)
	}
}

// TestRotation: with small segments, thousands of purchases begun and
// settled rotate through many segments; the live entries ride each
// checkpoint, the directory holds the current segment and one spare, and
// a reopened journal finds exactly the live entries, not the settled
// ones left in the recycled files.
func TestRotation(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "journal")
	j := open(t, dir, Options{SegmentSize: 8 << 10})
	durableSignals(t, j)
	ids := []uint64{begin(t, j, "msg 0"), begin(t, j, "msg 1"), begin(t, j, "msg 2"), begin(t, j, "msg 3")}
	next := time.Unix(1_700_000_000, 0)
	j.Reversing(Entry{ID: ids[2], Tries: 3, Next: next, Reason: "timeout", Msg: []byte("msg 2")})
	j.GiveUp(Entry{ID: ids[3], Tries: 10, Reason: "gave up", Msg: []byte("msg 3")})
	j.Settle(ids[1])
	msg := strings.Repeat("x", 250)
	for range 2000 {
		j.Settle(begin(t, j, msg))
	}
	ids = append(ids, begin(t, j, "msg 4"))
	if err := j.Flush(); err != nil {
		t.Fatal(err)
	}
	checkLive(t, j, ids, next)
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	names := dirNames(t, dir)
	if len(names) != 4 || !slices.Contains(names, spareName) || !slices.Contains(names, currentName) || !slices.Contains(names, reserveName) {
		t.Fatalf("journal directory holds %v, want one segment, the spare, %s and %s", names, currentName, reserveName)
	}
	j = open(t, dir, Options{SegmentSize: 8 << 10})
	defer j.Close()
	checkLive(t, j, ids, next)
}

func dirNames(t testing.TB, dir string) []string {
	t.Helper()
	des, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, de := range des {
		names = append(names, de.Name())
	}
	return names
}

// TestDamagedTail: a last record altered, as a crash leaves one, ends
// the segment; what came before is intact and the journal opens. A file
// cut short, or a last record whose length runs past the segment, is no
// crash's doing: damage.
func TestDamagedTail(t *testing.T) {
	for _, tc := range []struct {
		name    string
		damage  func(data []byte, last int) []byte
		damaged bool
	}{
		{"cut short", func(data []byte, last int) []byte { return data[:last+5] }, true},
		{"a byte flipped", func(data []byte, last int) []byte { data[last+recordHeader+3] ^= 0x40; return data }, false},
		{"length beyond the file", func(data []byte, last int) []byte { data[last+4] = 0x7f; return data }, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "journal")
			j := open(t, dir, Options{NoSync: true})
			durableSignals(t, j)
			first := begin(t, j, "kept")
			if err := j.Flush(); err != nil {
				t.Fatal(err)
			}
			last := j.off
			begin(t, j, "damaged")
			end := j.off
			path := j.path
			j.Close()
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			data = tc.damage(data[:end+recordHeader], int(last))
			if err := os.WriteFile(path, data, 0o600); err != nil {
				t.Fatal(err)
			}
			if tc.damaged {
				var d *Damage
				if _, err := Open(dir); !errors.As(err, &d) || d.File != path || d.Offset != last {
					t.Fatalf("opened with %v, want damage in %s at %d", err, path, last)
				}
				return
			}
			j = open(t, dir)
			defer j.Close()
			pend, err := j.Pending()
			if err != nil {
				t.Fatal(err)
			}
			if len(pend) != 1 || pend[0].ID != first || string(pend[0].Msg) != "kept" {
				t.Fatalf("pending %+v, want only the first purchase", pend)
			}
		})
	}
}

func TestClosedJournalRefuses(t *testing.T) {
	j := open(t, filepath.Join(t.TempDir(), "journal"))
	j.Close()
	if _, err := j.Begin([]byte("x"), nil); err != ErrClosed {
		t.Fatalf("got %v", err)
	}
	if err := j.Flush(); err != ErrClosed {
		t.Fatalf("flush: got %v", err)
	}
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestKillNine: records whose Begin callback ran survive SIGKILL of the
// process that wrote them, whether the writer committed them or, with
// NoSync, the goroutine that began them (BeginLater and Wake), while
// segments are replaced beside it.
func TestKillNine(t *testing.T) {
	if os.Getenv("JOURNAL_CHILD") != "" {
		return
	}
	for _, here := range []bool{false, true} {
		t.Run(fmt.Sprintf("committed by the caller %v", here), func(t *testing.T) { killNine(t, here) })
	}
}

func killNine(t *testing.T, here bool) {
	path := filepath.Join(t.TempDir(), "journal")
	cmd := exec.Command(os.Args[0], "-test.run=TestChildWriter")
	cmd.Env = append(os.Environ(), "JOURNAL_CHILD="+path, "JOURNAL_CHILD_HERE="+strconv.FormatBool(here))
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s := bufio.NewScanner(out)
	durable := -1
	for s.Scan() {
		if n, ok := strings.CutPrefix(s.Text(), "durable "); ok {
			durable, _ = strconv.Atoi(n)
			break
		}
	}
	cmd.Process.Kill()
	cmd.Wait()
	if durable <= 0 {
		t.Fatal("the child reported nothing")
	}
	j := open(t, path)
	defer j.Close()
	pend, err := j.Pending()
	if err != nil {
		t.Fatal(err)
	}
	found := 0
	for _, e := range pend {
		if strings.HasPrefix(string(e.Msg), "purchase ") {
			found++
		}
	}
	if found != durable {
		t.Fatalf("%d of the %d purchases reported durable are in the journal after kill -9", found, durable)
	}
}

// TestChildWriter is the process TestKillNine kills: it writes, reports
// what is durable, and keeps writing until killed.
func TestChildWriter(t *testing.T) {
	path := os.Getenv("JOURNAL_CHILD")
	if path == "" {
		t.Skip("run by TestKillNine")
	}
	here := os.Getenv("JOURNAL_CHILD_HERE") == "true"
	j := open(t, path, Options{SegmentSize: 64 << 10, NoSync: here})
	begin := j.Begin
	if here {
		// As an event loop does: a few begun, then one Wake for them.
		n := 0
		begin = func(msg []byte, tag any) (uint64, error) {
			id, err := j.BeginLater(msg, tag)
			if n++; n%7 == 0 {
				j.Wake()
			}
			return id, err
		}
		defer j.Wake()
	}
	var wg sync.WaitGroup
	j.Notify(func(batch []Begun, err error) {
		if err != nil {
			panic(err)
		}
		for _, b := range batch {
			if b.Tag != nil {
				wg.Done()
			}
		}
	})
	for i := range 500 {
		wg.Add(1)
		begin([]byte("purchase "+strconv.Itoa(i)), true)
	}
	j.Wake()
	wg.Wait()
	fmt.Println("durable 500")
	// Keep writing, and rotating, until killed.
	for i := 0; ; i++ {
		id, _ := begin([]byte("more "+strconv.Itoa(i)), nil)
		j.Settle(id)
		if i%1000 == 0 {
			j.Flush()
		}
	}
}

// BenchmarkBeginSettle: a purchase recorded (waiting for the disk) and
// settled, from many goroutines at once, as the gateway does.
func BenchmarkBeginSettle(b *testing.B) {
	j := open(b, filepath.Join(b.TempDir(), "journal"))
	defer j.Close()
	j.Notify(func(batch []Begun, err error) {
		for _, x := range batch {
			x.Tag.(chan error) <- err
		}
	})
	msg := make([]byte, 263)
	b.ReportAllocs()
	b.SetParallelism(32)
	b.RunParallel(func(pb *testing.PB) {
		done := make(chan error, 1)
		for pb.Next() {
			id, err := j.Begin(msg, done)
			if err == nil {
				err = <-done
			}
			if err != nil {
				b.Error(err)
				return
			}
			j.Settle(id)
		}
	})
	b.ReportMetric(float64(j.commits.Load()), "commits")
}

// TestSettleCommitsWithoutFlush: a settle alone reaches the disk within
// settleDelay, with nothing else to carry it.
func TestSettleCommitsWithoutFlush(t *testing.T) {
	j := open(t, filepath.Join(t.TempDir(), "journal"))
	defer j.Close()
	durableSignals(t, j)
	id := begin(t, j, "msg")
	commits := j.Stats().Commits
	j.Settle(id)
	deadline := time.Now().Add(10 * time.Second)
	for j.Stats().Open != 0 || j.Stats().Commits == commits {
		if time.Now().After(deadline) {
			t.Fatalf("settle never committed: %+v", j.Stats())
		}
		time.Sleep(time.Millisecond)
	}
}

// TestFailureIsSticky: once a write fails, the purchases of that commit
// come back with the error and every later Begin is refused, so nothing
// goes to the bank unrecorded.
func TestFailureIsSticky(t *testing.T) {
	j := open(t, filepath.Join(t.TempDir(), "journal"))
	got := make(chan error, 1)
	j.Notify(func(batch []Begun, err error) { got <- err })
	if _, err := j.Begin([]byte("fine"), nil); err != nil {
		t.Fatal(err)
	}
	if err := <-got; err != nil {
		t.Fatal(err)
	}
	j.liveMu.Lock()
	j.f.Close() // the disk goes away under the writer
	j.liveMu.Unlock()
	if _, err := j.Begin([]byte("lost"), nil); err != nil {
		t.Fatal(err)
	}
	if err := <-got; err == nil {
		t.Fatal("a purchase whose write failed was reported durable")
	}
	if _, err := j.Begin([]byte("after"), nil); err == nil {
		t.Fatal("Begin accepted after a failed write")
	}
	if err := j.Flush(); err == nil {
		t.Fatal("Flush reported success after a failed write")
	}
	j.Close()
}

// TestSpareWithoutSegments: a journal directory whose segments were
// removed is damaged ("current" names a segment that is gone); opened
// anyway it starts empty, and the spare's old records (of segments that
// were numbered like the new ones) do not come back.
func TestSpareWithoutSegments(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "journal")
	j := open(t, dir, Options{SegmentSize: 4 << 10})
	durableSignals(t, j)
	for i := 0; !slices.Contains(dirNames(t, dir), spareName); i++ {
		j.Settle(begin(t, j, fmt.Sprintf("old purchase %d, long enough to fill a segment soon", i)))
		begin(t, j, fmt.Sprintf("old purchase %d, left open", i))
	}
	j.Close()
	for _, name := range dirNames(t, dir) {
		if _, ok := segmentNumber(name); ok {
			os.Remove(filepath.Join(dir, name))
		}
	}
	if _, err := Open(dir, Options{SegmentSize: 4 << 10}); !errors.Is(err, ErrDamaged) {
		t.Fatalf("a journal whose segments were removed opened: %v", err)
	}
	j = open(t, dir, Options{SegmentSize: 4 << 10, SkipDamage: true})
	j.Close()
	j = open(t, dir, Options{SegmentSize: 4 << 10})
	defer j.Close()
	if pend, _ := j.Pending(); len(pend) != 0 {
		t.Fatalf("%d purchases came back from a removed journal", len(pend))
	}
}

// FuzzReplay: whatever a segment holds, replay neither panics nor
// allocates what a length field claims, every entry it keeps decodes,
// and every damage it reports lies inside the file. It reads the bytes
// in memory, as Open does once it has read the file.
func FuzzReplay(f *testing.F) {
	dir := f.TempDir()
	j := open(f, filepath.Join(dir, "seed"), Options{NoSync: true})
	j.Begin([]byte("seed purchase"), nil)
	j.Reversing(Entry{ID: 1, Tries: 2, Reason: "timeout", Msg: []byte("seed purchase")})
	j.Flush()
	seg, n := j.path, j.seg
	j.Close()
	if data, err := os.ReadFile(seg); err == nil {
		f.Add(data, n)
		cut := append([]byte(nil), data...)
		binary.BigEndian.PutUint32(cut[len(cut)-12:], 1<<30)
		f.Add(cut, n)
	}
	f.Add([]byte{}, uint64(1))
	f.Fuzz(func(t *testing.T, data []byte, seg uint64) {
		entries := map[uint64][]byte{}
		var next uint64
		damage, err := replaySegment("seg", data, seg, entries, &next)
		if err != nil {
			t.Fatal(err)
		}
		for id, e := range entries {
			if _, err := decodeEntry(id, e); err != nil {
				t.Fatalf("kept an entry that does not decode: %v", err)
			}
		}
		for _, d := range damage {
			if d.Offset > int64(len(data)) || d.Resumes > int64(len(data)) {
				t.Fatalf("damage outside the file: %+v", d)
			}
		}
	})
}

// BenchmarkSync: one commit's write and fdatasync, 8 KiB, on a segment
// whose blocks were written before (zero-filled or recycled, as the
// journal keeps them) and on a file that grows with each write.
func BenchmarkSync(b *testing.B) {
	for _, fill := range []bool{true, false} {
		name := "append"
		if fill {
			name = "written-blocks"
		}
		b.Run(name, func(b *testing.B) {
			f, err := createSegment(b.TempDir(), 1, 64<<20, fill)
			if err != nil {
				b.Fatal(err)
			}
			defer f.Close()
			rec := make([]byte, 8<<10)
			var sum, sq float64 // of each write's time, s
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; b.Loop(); i++ {
				start := time.Now()
				off := int64(i%(64<<10/8)) * int64(len(rec))
				if _, err := f.WriteAt(rec, off); err != nil {
					b.Fatal(err)
				}
				if err := datasync(f); err != nil {
					b.Fatal(err)
				}
				d := time.Since(start).Seconds()
				sum, sq = sum+d, sq+d*d
			}
			// A purchase arriving at a random moment while the writer is
			// never idle waits out the rest of the write under way, whose
			// mean is E[W²]/2E[W] (longer writes are likelier to be hit),
			// then its own: in writes, 1 + E[W²]/2E[W]², 1.5 only when
			// every write takes as long.
			if n := float64(b.N); sum > 0 {
				mean := sum / n
				b.ReportMetric(1+sq/n/(2*mean*mean), "wait-writes")
			}
		})
	}
}

// goroutineID is the running goroutine's number, from its stack's first
// line: which goroutine a callback ran on.
func goroutineID() string {
	var buf [64]byte
	n := runtime.Stack(buf[:], false)
	id, _, _ := strings.Cut(strings.TrimPrefix(string(buf[:n]), "goroutine "), " ")
	return id
}

// TestBeginLater: purchases begun with BeginLater go in one commit at
// Wake. With NoSync it is made on Wake's goroutine, NotifyHere's
// callback run before Wake returns (and Wake says so); with syncs, by
// the writer, told through Notify's. Begun and never
// woken, they are committed all the same, within settleDelay.
func TestBeginLater(t *testing.T) {
	for _, tc := range []struct {
		name   string
		noSync bool
		wake   bool
		here   bool // committed on the caller's goroutine
	}{
		{"no sync: committed by Wake's caller", true, true, true},
		{"synced: committed by the writer", false, true, false},
		{"no sync, never woken", true, false, false},
		{"synced, never woken", false, false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			opts := Options{NoSync: tc.noSync}
			if tc.wake {
				opts.LazyCommit = time.Hour // only Wake commits
			}
			j := open(t, filepath.Join(t.TempDir(), "journal"), opts)
			defer j.Close()
			type told struct {
				ids  []uint64
				on   string
				here bool // through NotifyHere's callback
			}
			batches := make(chan told, 10)
			tell := func(here bool) func([]Begun, error) {
				return func(batch []Begun, err error) {
					if err != nil {
						t.Error(err)
					}
					var ids []uint64
					for _, b := range batch {
						ids = append(ids, b.ID)
					}
					batches <- told{ids, goroutineID(), here}
				}
			}
			j.Notify(tell(false))
			j.NotifyHere(tell(true))
			var want []uint64
			for i := range 3 {
				id, err := j.BeginLater([]byte("purchase "+strconv.Itoa(i)), nil)
				if err != nil {
					t.Fatal(err)
				}
				want = append(want, id)
			}
			caller := goroutineID()
			if tc.wake {
				if here := j.Wake(); here != tc.here {
					t.Fatalf("Wake reported committing itself %v, want %v", here, tc.here)
				}
			}
			if tc.here {
				select {
				case b := <-batches:
					if b.on != caller || !slices.Equal(b.ids, want) || !b.here {
						t.Fatalf("told %v on goroutine %s (NotifyHere %v), want %v on the caller's, %s, through NotifyHere", b.ids, b.on, b.here, want, caller)
					}
				default:
					t.Fatal("Wake returned before the commit it was to make")
				}
			} else {
				var got []uint64
				for len(got) < len(want) {
					select {
					case b := <-batches:
						if b.on == caller || b.here {
							t.Fatalf("committed on the caller's goroutine (NotifyHere %v) with the writer to commit", b.here)
						}
						got = append(got, b.ids...)
					case <-time.After(10 * time.Second):
						t.Fatalf("told %v of %v within 10 s", got, want)
					}
				}
				if !slices.Equal(got, want) {
					t.Fatalf("told %v, want %v", got, want)
				}
			}
			j.Close()
			j = open(t, j.dir, Options{NoSync: tc.noSync})
			pend, err := j.Pending()
			if err != nil {
				t.Fatal(err)
			}
			if len(pend) != len(want) {
				t.Fatalf("%d pending after reopening, want %d", len(pend), len(want))
			}
		})
	}
}

// TestRecordSum: a record's checksum is crc32-C over its segment's
// number and its bytes, and sealing one allocates nothing.
func TestRecordSum(t *testing.T) {
	payload := []byte("\x00\x00\x00\x05hello")
	for _, seg := range []uint64{0, 1, 255, 1 << 40, ^uint64(0), 0x0102030405060708} {
		want := crc32.Update(0, castagnoli, binary.BigEndian.AppendUint64(nil, seg))
		want = crc32.Update(want, castagnoli, payload)
		if got := recordSum(seg, payload); got != want {
			t.Fatalf("segment %d: %08x, want %08x", seg, got, want)
		}
	}
	rec := append(make([]byte, recordHeader), 'x')
	if n := testing.AllocsPerRun(100, func() { sealRecord(rec, 7) }); n != 0 {
		t.Fatalf("sealRecord: %v allocations", n)
	}
}

// stepClock moves on by step at each reading.
type stepClock struct {
	at   atomic.Int64
	step time.Duration
}

func (c *stepClock) Now() time.Time { return time.Unix(0, c.at.Add(int64(c.step))) }

// TestWriteTime: each record written adds what its write and sync took,
// read from the journal's clock, and counts once.
func TestWriteTime(t *testing.T) {
	for _, noSync := range []bool{true, false} {
		t.Run(map[bool]string{true: "no sync", false: "synced"}[noSync], func(t *testing.T) {
			clk := &stepClock{step: time.Millisecond}
			j := open(t, filepath.Join(t.TempDir(), "journal"), Options{NoSync: noSync, Clock: clk})
			defer j.Close()
			durableSignals(t, j)
			for i := range 3 {
				begin(t, j, "purchase "+strconv.Itoa(i))
			}
			s := j.Stats()
			if s.Writes < 3 || s.WriteTime != time.Duration(s.Writes)*time.Millisecond {
				t.Fatalf("%d writes took %v, want 1 ms each", s.Writes, s.WriteTime)
			}
		})
	}
}

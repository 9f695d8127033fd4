package journal

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

func open(t testing.TB, path string) *Journal {
	t.Helper()
	j, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	return j
}

func TestBeginSettleReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "journal.db")
	j := open(t, path)
	var ids []uint64
	var wg sync.WaitGroup
	for i := range 5 {
		wg.Add(1)
		ids = append(ids, j.Begin([]byte(fmt.Sprintf("msg %d", i)), func(_ uint64, err error) {
			if err != nil {
				t.Error(err)
			}
			wg.Done()
		}))
	}
	wg.Wait()
	j.Settle(ids[1])
	next := time.Unix(1_700_000_000, 0)
	j.Reversing(Entry{ID: ids[2], Tries: 3, Next: next, Reason: "timeout", Msg: []byte("msg 2")}, nil)
	j.GiveUp(Entry{ID: ids[3], Tries: 10, Reason: "gave up", Msg: []byte("msg 3")})
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}

	j = open(t, path)
	defer j.Close()
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
	gave, _ := j.GaveUp()
	if len(gave) != 1 || gave[0].ID != ids[3] || gave[0].Tries != 10 {
		t.Fatalf("gave up %+v", gave)
	}
	// New ids never reuse old ones.
	if id := j.Begin(nil, nil); id <= ids[4] {
		t.Fatalf("id %d reused", id)
	}
}

func TestClosedJournalRefuses(t *testing.T) {
	j := open(t, filepath.Join(t.TempDir(), "j.db"))
	j.Close()
	var got error
	j.Begin([]byte("x"), func(_ uint64, err error) { got = err })
	if got != ErrClosed {
		t.Fatalf("got %v", got)
	}
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestKillNine: records whose Begin callback ran survive SIGKILL of the
// process that wrote them.
func TestKillNine(t *testing.T) {
	if os.Getenv("JOURNAL_CHILD") != "" {
		return
	}
	path := filepath.Join(t.TempDir(), "journal.db")
	cmd := exec.Command(os.Args[0], "-test.run=TestChildWriter")
	cmd.Env = append(os.Environ(), "JOURNAL_CHILD="+path)
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
	if len(pend) < durable {
		t.Fatalf("%d records after kill -9, %d were reported durable", len(pend), durable)
	}
}

// TestChildWriter is the process TestKillNine kills: it writes, reports
// what is durable, and keeps writing until killed.
func TestChildWriter(t *testing.T) {
	path := os.Getenv("JOURNAL_CHILD")
	if path == "" {
		t.Skip("run by TestKillNine")
	}
	j := open(t, path)
	var wg sync.WaitGroup
	for i := range 500 {
		wg.Add(1)
		j.Begin([]byte("purchase "+strconv.Itoa(i)), func(uint64, error) { wg.Done() })
	}
	wg.Wait()
	fmt.Println("durable 500")
	for i := 0; ; i++ {
		j.Begin([]byte("more "+strconv.Itoa(i)), nil)
		if i%1000 == 0 {
			j.Flush()
		}
	}
}

// BenchmarkBeginSettle: a purchase recorded (waiting for the disk) and
// settled, from many goroutines at once, as the gateway does.
func BenchmarkBeginSettle(b *testing.B) {
	j := open(b, filepath.Join(b.TempDir(), "j.db"))
	defer j.Close()
	msg := make([]byte, 263)
	b.ReportAllocs()
	b.SetParallelism(32)
	b.RunParallel(func(pb *testing.PB) {
		done := make(chan error, 1)
		for pb.Next() {
			id := j.Begin(msg, func(_ uint64, err error) { done <- err })
			if err := <-done; err != nil {
				b.Error(err)
				return
			}
			j.Settle(id)
		}
	})
	b.ReportMetric(float64(j.commits.Load()), "commits")
}

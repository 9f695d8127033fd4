package cluster

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/socketqueue/socketqueue-go/internal/testwait"
)

var (
	freePort = testwait.FreePort
	waitFor  = testwait.For
)

// startCluster starts n embedded nodes routed to one another on
// loopback.
func startCluster(t *testing.T, n int) []*Node {
	t.Helper()
	return startClusterWith(t, n, nil)
}

// startClusterWith is startCluster with each node's configuration
// changed by with (its index given) before it starts.
func startClusterWith(t *testing.T, n int, with func(i int, c *NodeConfig)) []*Node {
	t.Helper()
	ports := make([]int, n)
	for i := range ports {
		ports[i] = freePort(t)
	}
	nodes := make([]*Node, n)
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		var routes []string
		for j, p := range ports {
			if j != i {
				routes = append(routes, "127.0.0.1:"+strconv.Itoa(p))
			}
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := NodeConfig{Name: "n" + strconv.Itoa(i+1), Port: freePort(t), ClusterPort: ports[i], Routes: routes, Dir: t.TempDir()}
			if with != nil {
				with(i, &c)
			}
			nodes[i], errs[i] = StartNode(c)
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(nodes[i].Shutdown)
	}
	return nodes
}

func urls(nodes []*Node) []string {
	var out []string
	for _, n := range nodes {
		out = append(out, n.ClientURL())
	}
	return out
}

// open opens a store for instance, retrying while the cluster elects
// its meta leader.
func open(t *testing.T, nodes []*Node, instance string, lease time.Duration) *Store {
	t.Helper()
	return openWith(t, nodes, StoreConfig{Instance: instance, Lease: lease})
}

// openWith is open with cfg's other settings (TLS).
func openWith(t *testing.T, nodes []*Node, cfg StoreConfig) *Store {
	t.Helper()
	cfg.URLs, cfg.Replicas = urls(nodes), len(nodes)
	deadline := time.Now().Add(30 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		s, err := Open(ctx, cfg)
		cancel()
		if err == nil {
			t.Cleanup(s.Close)
			return s
		}
		if time.Now().After(deadline) {
			t.Fatal(err)
		}
	}
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// TestHoldRelease: three nodes, two instances. A terminal held by one is
// refused to the other, with the holder's record, until released; the
// other's WaitFree returns then. A purchase costs two writes.
func TestHoldRelease(t *testing.T) {
	nodes := startCluster(t, 3)
	a, b := open(t, nodes, "gw-a", 5*time.Second), open(t, nodes, "gw-b", 5*time.Second)
	ctx := ctxT(t)
	rev, _, err := a.Hold(ctx, "00000001", Record{Instance: "gw-a", Msg: []byte("0200 first")})
	if err != nil {
		t.Fatal(err)
	}
	if _, held, err := b.Hold(ctx, "00000001", Record{Instance: "gw-b"}); !errors.Is(err, ErrHeld) || held == nil || held.Instance != "gw-a" || string(held.Msg) != "0200 first" {
		t.Fatalf("a held terminal: %v, %+v", err, held)
	}
	freed := make(chan error, 1)
	go func() { freed <- b.WaitFree(ctx, "00000001") }()
	if err := a.Release(ctx, "00000001", rev); err != nil {
		t.Fatal(err)
	}
	if err := <-freed; err != nil {
		t.Fatalf("WaitFree: %v", err)
	}
	rev, _, err = b.Hold(ctx, "00000001", Record{Instance: "gw-b"})
	if err != nil {
		t.Fatalf("after the release: %v", err)
	}
	if err := b.Release(ctx, "00000001", rev); err != nil {
		t.Fatal(err)
	}

	// Writes per purchase: the stream's sequence moves by two.
	stream, err := a.js.Stream(ctx, "KV_"+terminalsBucket)
	if err != nil {
		t.Fatal(err)
	}
	info, _ := stream.Info(ctx)
	before := info.State.LastSeq
	const n = 20
	for i := range n {
		rev, _, err := b.Hold(ctx, "00000002", Record{Instance: "gw-b", Msg: []byte(strconv.Itoa(i))})
		if err != nil {
			t.Fatal(err)
		}
		if err := b.Release(ctx, "00000002", rev); err != nil {
			t.Fatal(err)
		}
	}
	info, _ = stream.Info(ctx)
	if got := info.State.LastSeq - before; got != 2*n {
		t.Errorf("%d purchases wrote %d times, want %d", n, got, 2*n)
	}
}

// TestTakeOverFenced: an instance stops renewing its lease with a
// terminal held. Of two survivors exactly one takes the record over; the
// old owner, waking with its revision, is fenced off both from settling
// and from changing it.
func TestTakeOverFenced(t *testing.T) {
	nodes := startCluster(t, 3)
	lease := time.Second
	dead := open(t, nodes, "gw-dead", lease)
	b, c := open(t, nodes, "gw-b", lease), open(t, nodes, "gw-c", lease)
	ctx := ctxT(t)
	for _, s := range []*Store{dead, b, c} {
		if err := s.Heartbeat(ctx); err != nil {
			t.Fatal(err)
		}
	}
	rev, _, err := dead.Hold(ctx, "00000007", Record{Instance: "gw-dead", Msg: []byte("0200 at the bank")})
	if err != nil {
		t.Fatal(err)
	}
	if taken, _, err := b.TakeOver(ctx); err != nil || len(taken) != 0 {
		t.Fatalf("took over a live instance's records: %v, %v", taken, err)
	}
	// gw-dead renews no more; the survivors keep renewing.
	var mu sync.Mutex
	took := map[string]int{}
	waitFor(t, "a survivor took the record over", func() bool {
		var wg sync.WaitGroup
		for name, s := range map[string]*Store{"gw-b": b, "gw-c": c} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_ = s.Heartbeat(ctx)
				taken, _, err := s.TakeOver(ctx)
				if err != nil {
					return
				}
				mu.Lock()
				took[name] += len(taken)
				mu.Unlock()
			}()
		}
		wg.Wait()
		mu.Lock()
		defer mu.Unlock()
		return took["gw-b"]+took["gw-c"] > 0
	})
	if n := took["gw-b"] + took["gw-c"]; n != 1 {
		t.Fatalf("taken %d times (%v), want once", n, took)
	}
	if err := dead.Release(ctx, "00000007", rev); !errors.Is(err, ErrFenced) {
		t.Fatalf("the old owner settled a record taken from it: %v", err)
	}
	if _, err := dead.Update(ctx, "00000007", rev, Record{Instance: "gw-dead"}); !errors.Is(err, ErrFenced) {
		t.Fatalf("the old owner changed a record taken from it: %v", err)
	}
	_, held, err := dead.Hold(ctx, "00000007", Record{Instance: "gw-dead"})
	if !errors.Is(err, ErrHeld) || !held.Reversing || held.Instance == "gw-dead" {
		t.Fatalf("the record after the takeover: %v %+v", err, held)
	}
}

// TestLockReleasedAfterBankWait: a lapsed instance's Lock record (a
// refund at the bank when it died) is not released at the lapse but only
// once it is BankWait old, so the terminal's next request cannot reach
// the bank beside it.
func TestLockReleasedAfterBankWait(t *testing.T) {
	nodes := startCluster(t, 3)
	lease, bankWait := time.Second, 4*time.Second
	dead := open(t, nodes, "gw-dead", lease)
	b := openWith(t, nodes, StoreConfig{Instance: "gw-b", Lease: lease, BankWait: bankWait})
	ctx := ctxT(t)
	for _, s := range []*Store{dead, b} {
		if err := s.Heartbeat(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if _, _, err := b.TakeOver(ctx); err != nil {
		t.Fatal(err)
	}
	if _, _, err := dead.Hold(ctx, "00000009", Record{Instance: "gw-dead", Msg: []byte("0200 refund"), Lock: true}); err != nil {
		t.Fatal(err)
	}
	written := time.Now()
	var lapsedAt time.Time
	waitFor(t, "the lock released", func() bool {
		_ = b.Heartbeat(ctx)
		alive, err := b.Alive(ctx)
		if err == nil && !alive["gw-dead"] && lapsedAt.IsZero() {
			lapsedAt = time.Now()
		}
		taken, _, err := b.TakeOver(ctx)
		return err == nil && len(taken) == 1
	})
	if lapsedAt.IsZero() || time.Since(written) < bankWait-100*time.Millisecond {
		t.Fatalf("released %v after it was written (lease lapsed %v after), want at least %v", time.Since(written), lapsedAt.Sub(written), bankWait)
	}
	t.Logf("lease lapsed %v after the write, lock released %v after", lapsedAt.Sub(written).Round(time.Millisecond), time.Since(written).Round(time.Millisecond))
	if rev, _, err := b.Hold(ctx, "00000009", Record{Instance: "gw-b"}); err != nil || rev == 0 {
		t.Fatalf("the terminal after the release: %v", err)
	}
}

// TestNodeLost: one of three nodes stops; with a quorum left, records are
// still held and released.
func TestNodeLost(t *testing.T) {
	nodes := startCluster(t, 3)
	s := open(t, nodes, "gw-a", 5*time.Second)
	ctx := ctxT(t)
	cycle := func(tid string) error {
		rev, _, err := s.Hold(ctx, tid, Record{Instance: "gw-a"})
		if err != nil {
			return err
		}
		return s.Release(ctx, tid, rev)
	}
	if err := cycle("00000001"); err != nil {
		t.Fatal(err)
	}
	nodes[0].Shutdown()
	var last error
	waitFor(t, "holds and releases with two of three nodes", func() bool {
		for i := range 10 {
			if last = cycle(fmt.Sprintf("%08d", 100+i)); last != nil {
				return false
			}
		}
		return true
	})
}

// TestHoldExclusive: two instances race for one terminal, each holding
// it, pausing, releasing, over and over: never both at once.
func TestHoldExclusive(t *testing.T) {
	nodes := startCluster(t, 3)
	ctx := ctxT(t)
	var mu sync.Mutex
	inside, overlaps, cycles := 0, 0, 0
	var wg sync.WaitGroup
	for _, name := range []string{"gw-a", "gw-b"} {
		s := open(t, nodes, name, 5*time.Second)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 30 {
				var rev uint64
				for {
					r, _, err := s.Hold(ctx, "00000042", Record{Instance: name})
					if err == nil {
						rev = r
						break
					}
					if !errors.Is(err, ErrHeld) && !errors.Is(err, ErrConflicts) { // others writing at once
						t.Error(err)
						return
					}
					if err := s.WaitFree(ctx, "00000042"); err != nil {
						t.Error(err)
						return
					}
				}
				mu.Lock()
				inside++
				if inside > 1 {
					overlaps++
				}
				cycles++
				mu.Unlock()
				time.Sleep(2 * time.Millisecond) // the request at the bank
				mu.Lock()
				inside--
				mu.Unlock()
				if err := s.Release(ctx, "00000042", rev); err != nil {
					free, lrev, held, _ := s.last(ctx, "00000042")
					t.Errorf("%s release of %d: %v; now free=%v rev=%d held=%+v", name, rev, err, free, lrev, held)
					return
				}
			}
		}()
	}
	wg.Wait()
	if overlaps != 0 || cycles != 60 {
		t.Fatalf("%d of %d holds overlapped", overlaps, cycles)
	}
}

// TestBucketsReadFromLeader: both buckets' streams have direct gets off,
// also where a bucket was first made by the client library (direct gets
// on): a paused replica's queue subscription must not swallow reads.
func TestBucketsReadFromLeader(t *testing.T) {
	nodes := []*Node{startNode(t)}
	nc, err := nats.Connect(nodes[0].ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	if _, err := js.CreateOrUpdateKeyValue(ctxT(t), jetstream.KeyValueConfig{Bucket: terminalsBucket}); err != nil {
		t.Fatal(err)
	}
	open(t, nodes, "gw1", time.Second)
	for _, name := range []string{terminalsBucket, leasesBucket} {
		st, err := js.Stream(ctxT(t), "KV_"+name)
		if err != nil {
			t.Fatal(err)
		}
		if cfg := st.CachedInfo().Config; cfg.AllowDirect || cfg.MaxMsgsPerSubject != 1 || !cfg.DenyDelete || !cfg.AllowRollup {
			t.Errorf("%s: direct %v, history %d, deny delete %v, rollup %v", name, cfg.AllowDirect, cfg.MaxMsgsPerSubject, cfg.DenyDelete, cfg.AllowRollup)
		}
	}
}

package server

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/socketqueue/socketqueue-go/isocodec"
	"github.com/socketqueue/socketqueue-go/journal"
	"github.com/socketqueue/socketqueue-go/metrics"
	"github.com/socketqueue/socketqueue-go/stats"
)

// relayRig is a gateway in this process in front of the emulator in a
// process of its own (benchproc_test.go), with a framed POS port.
func relayRig(b *testing.B) *Gateway {
	return relayRigJournal(b, noJournal)
}

type journalMode int

const (
	noJournal journalMode = iota
	syncDisk
	syncOS
)

func relayRigJournal(b *testing.B, mode journalMode) *Gateway {
	bankAddr := startBankProcess(b)
	var j *journal.Journal
	if mode != noJournal {
		var err error
		j, err = journal.Open(filepath.Join(b.TempDir(), "journal"), journal.Options{NoSync: mode == syncOS})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { j.Close() })
	}
	g := startGateway(b, bankAddr, func(c *Config) {
		c.POSFraming = ascii4(b)
		c.Journal = j
		if os.Getenv("BENCH_NO_FIGURES") == "" { // as socketqueue runs: figures on
			c.Stats, c.Metrics = stats.New(), metrics.New()
		}
	})
	if j != nil {
		b.Cleanup(func() {
			if st := j.Stats(); st.Commits > 0 {
				b.ReportMetric(float64(st.Ops)/float64(st.Commits), "ops/commit")
			}
		})
	}
	return g
}

// framedPurchases makes n framed purchases for distinct terminals.
func framedPurchases(n, first int) ([][]byte, error) {
	out := make([][]byte, n)
	for i := range out {
		f := purchaseFields(i+1, tid(first+i), "000000000001")
		f[35] = fmt.Sprintf("485078123%07d=19082012232800000037", first+i)
		m, err := sv.Pack(f)
		if err != nil {
			return nil, err
		}
		out[i] = frame(m)
	}
	return out, nil
}

// pipeline drives one connection with up to window requests in flight and
// returns when n replies have come back.
func pipeline(addr string, reqs [][]byte, n, window int) error {
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		return err
	}
	defer conn.Close()
	credits := make(chan struct{}, window)
	for range window {
		credits <- struct{}{}
	}
	done := make(chan error, 1)
	go func() {
		r := bufio.NewReaderSize(conn, 64<<10)
		var hdr [4]byte
		body := make([]byte, 2048)
		for i := 0; i < n; i++ {
			if _, err := io.ReadFull(r, hdr[:]); err != nil {
				done <- err
				return
			}
			l := int(hdr[0]-'0')*1000 + int(hdr[1]-'0')*100 + int(hdr[2]-'0')*10 + int(hdr[3]-'0')
			if _, err := io.ReadFull(r, body[:l]); err != nil {
				done <- err
				return
			}
			credits <- struct{}{}
		}
		done <- nil
	}()
	w := bufio.NewWriterSize(conn, 64<<10)
	for i := 0; i < n; i++ {
		select {
		case <-credits:
		default:
			if err := w.Flush(); err != nil {
				return err
			}
			<-credits
		}
		w.Write(reqs[i%len(reqs)])
	}
	if err := w.Flush(); err != nil {
		return err
	}
	return <-done
}

// BenchmarkRelayPipelined: 4 framed POS connections, 64 requests in
// flight each, distinct terminals, relayed to the emulator and back.
func BenchmarkRelayPipelined(b *testing.B) {
	b.Run("journal=off", func(b *testing.B) { relayPipelined(b, noJournal) })
	b.Run("journal=disk", func(b *testing.B) { relayPipelined(b, syncDisk) })
	b.Run("journal=os", func(b *testing.B) { relayPipelined(b, syncOS) })
}

func relayPipelined(b *testing.B, withJournal journalMode) {
	g := relayRigJournal(b, withJournal)
	runClients(b, g.POSAddr().String(), 4, 64)
}

// BenchmarkRelayOneInFlight: 64 framed connections, one request in flight
// each (request, wait, next).
func BenchmarkRelayOneInFlight(b *testing.B) {
	b.Run("journal=off", func(b *testing.B) { relayOneInFlight(b, noJournal) })
	b.Run("journal=disk", func(b *testing.B) { relayOneInFlight(b, syncDisk) })
	b.Run("journal=os", func(b *testing.B) { relayOneInFlight(b, syncOS) })
}

func relayOneInFlight(b *testing.B, withJournal journalMode) {
	g := relayRigJournal(b, withJournal)
	runClients(b, g.POSAddr().String(), 64, 1)
}

// BenchmarkHTTPJSON: the seed README's purchase over keep-alive HTTP,
// 64 clients, in this process (its figures include theirs).
func BenchmarkHTTPJSON(b *testing.B) {
	g := relayRig(b)
	url := "http://" + g.HTTPAddr().String() + "/"
	tr := &http.Transport{MaxIdleConnsPerHost: 64}
	client := &http.Client{Transport: tr}
	b.ReportAllocs()
	b.SetParallelism(32)
	var next sync.Mutex
	n := 0
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		next.Lock()
		n++
		body := strings.Replace(seedCurl(), "992468", fmt.Sprint(1000+n), 1)
		next.Unlock()
		for pb.Next() {
			resp, err := client.Post(url, "application/json", strings.NewReader(body))
			if err != nil {
				b.Error(err)
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 {
				b.Errorf("status %d", resp.StatusCode)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
}

var _ = isocodec.SmartVista

package dispatch

import (
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/socketqueue/socketqueue-go/isocodec"
)

// BenchmarkSubmitMatch: a request in, its reply matched, the request
// recycled; each goroutine has its own terminals. Run with -cpu 1,2,4 to
// see the shards scale.
func BenchmarkSubmitMatch(b *testing.B) {
	g := newRig(b, Config{LockTerminal: true})
	type pair struct {
		req, rep *msg
		key, tid isocodec.Key
	}
	var worker atomic.Int64
	const perWorker = 64
	mk := func(w int) []pair {
		ps := make([]pair, perWorker)
		for i := range ps {
			tid := strconv.Itoa(w*perWorker + i)
			tid = "00000000"[len(tid):] + tid
			p := purchase(b, i+1, tid, "000000001000")
			rep := reply(b, fields(p))
			ps[i] = pair{p, rep, isocodec.Key{}.Append(&rep.s, rep.b, g.keys), isocodec.Key{}.Append(&rep.s, rep.b, []int{41})}
		}
		return ps
	}
	workers := make([][]pair, 64)
	for w := range workers {
		workers[w] = mk(w)
	}
	c := &testClient{}
	deadline := t0.Add(time.Minute)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		ps := workers[worker.Add(1)-1]
		i := 0
		for pb.Next() {
			p := &ps[i%perWorker]
			r := g.tab.Get()
			r.Fill(isocodec.SmartVista, p.req.b, &p.req.s, g.keys)
			r.Client = c
			g.tab.Submit(r, deadline)
			got, _ := g.tab.Match(p.key, p.tid, &p.rep.s, p.rep.b)
			g.tab.Put(got)
			i++
		}
	})
}

// BenchmarkExpire: requests submitted and left to time out.
func BenchmarkExpire(b *testing.B) {
	g := newRig(b, Config{LockTerminal: false})
	msgs := make([]*msg, 1024)
	for i := range msgs {
		msgs[i] = purchase(b, i+1, "00000001", "000000001000")
	}
	c := &testClient{}
	var expired, ready []*Request
	now := t0
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		m := msgs[i%len(msgs)]
		r := g.tab.Get()
		r.Fill(isocodec.SmartVista, m.b, &m.s, g.keys)
		r.Client = c
		g.tab.Submit(r, now.Add(35*time.Second))
		if i%len(msgs) == len(msgs)-1 {
			now = now.Add(35 * time.Second)
			expired, ready = g.tab.Expire(now, expired[:0], ready[:0])
			for _, r := range expired {
				g.tab.Put(r)
			}
		}
	}
}

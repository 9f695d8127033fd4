package server

import (
	"testing"

	"github.com/socketqueue/socketqueue-go/dispatch"
	"github.com/socketqueue/socketqueue-go/isocodec"
	"github.com/socketqueue/socketqueue-go/metrics"
	"github.com/socketqueue/socketqueue-go/stats"
)

// BenchmarkCounting is what the statistics and Prometheus counting add to
// one relayed purchase: the request in, to the bank, the reply in, the
// reply out.
func BenchmarkCounting(b *testing.B) {
	g, err := New(Config{Dialect: sv, HostFraming: ascii4(b), POSFraming: ascii4(b), UpstreamAddr: "127.0.0.1:1",
		POSAddr: "127.0.0.1:0", Stats: stats.New(), Metrics: metrics.New(), Log: testLog()})
	if err != nil {
		b.Fatal(err)
	}
	req := pack(b, purchaseFields(1, "00000001", "000000001000"))
	rep := replyTo(b, req, nil)
	var rs, ps isocodec.Scan
	if sv.Layout.Scan(req, &rs) != nil || sv.Layout.Scan(rep, &ps) != nil {
		b.Fatal("scan")
	}
	r := &dispatch.Request{MTI: rs.MTI, Arrived: 1, Sent: 1}
	never := func(func()) bool { return false }
	c := &counts{g.cfg.Metrics.LoopTally(never), g.cfg.Stats.LoopTally(never)} // a loop's
	b.ReportAllocs()
	for b.Loop() {
		g.countRequest(c, &rs, req)
		c.m.Message(rs.MTI, metrics.ToBank)
		g.countFromBank(c, &ps, rep)
		g.countDelivered(c, r, ps.MTI, 2)
	}
}

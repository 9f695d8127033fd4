package server

import (
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/socketqueue/socketqueue-go/bank"
	"github.com/socketqueue/socketqueue-go/stats"
)

// TestStatsFigures: a known mix of purchases, a decline, a refund and a
// reversal gives exactly the original's figures at GET /stats.
func TestStatsFigures(t *testing.T) {
	b := startBank(t, bank.Faults{MuteEvery: 5}, "")
	st := stats.New()
	g := startGateway(t, b.Addr().String(), func(c *Config) {
		c.Stats = st
		c.QueueTimeout = 300 * time.Millisecond
	})
	refund := purchaseFields(4, "00000001", "000000000500")
	refund[3] = "200000"
	for i, f := range []map[int]string{
		purchaseFields(1, "00000001", "000000001000"),
		purchaseFields(2, "00000001", "000000002000"),
		purchaseFields(3, "00000001", "000000116777"), // declined 116
		refund,
		purchaseFields(5, "00000001", "000000003000"), // never answered, reversed
	} {
		reply, err := bareExchange(g.POSAddr().String(), pack(t, f))
		if err != nil {
			t.Fatal(err)
		}
		if want := i < 4; (len(reply) > 0) != want {
			t.Fatalf("purchase %d answered: %v", i+1, len(reply) > 0)
		}
	}
	eventually(t, "the reversal approved", func() bool { return g.Reversals().Counts().Approved == 1 })
	resp, err := http.Get("http://" + g.AdminAddr().String() + "/stats")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	// The original's figures, then the state of each bank link.
	want := `{"securedAmount":-5,"processedAmount":1232.77,"refundAmount":5,"reversalAmount":30,"faultStat":{"116":1},` +
		`"packetCount":{"total":11,"0200":5,"0210":4,"0400":1,"0410":1},"links":[{"link":"` + g.cfg.UpstreamAddrs[0] + `","up":true,"ready":true,`
	if !strings.HasPrefix(string(body), want) || !strings.HasSuffix(string(body), "}]}") {
		t.Fatalf("got\n%s\nwant it to start\n%s", body, want)
	}
}

package server

import (
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/socketqueue/socketqueue-go/bank"
	"github.com/socketqueue/socketqueue-go/metrics"
	"github.com/socketqueue/socketqueue-go/stats"
)

// TestMetrics: /metrics parses with Prometheus's own text parser and its
// counters match the traffic sent, also when several event loops count
// it (each in its own tally) and /stats says the same.
func TestMetrics(t *testing.T) {
	for _, loops := range []int{1, 2} {
		t.Run(fmt.Sprintf("loops=%d", loops), func(t *testing.T) { testMetrics(t, loops) })
	}
}

func testMetrics(t *testing.T, loops int) {
	b := startBank(t, bank.Faults{}, "")
	g := startGateway(t, b.Addr().String(), func(c *Config) {
		c.Metrics, c.Stats, c.Loops = metrics.New(), stats.New(), loops
		c.Journal = openJournal(t, filepath.Join(t.TempDir(), "journal"))
	})
	for i := 1; i <= 5; i++ {
		amount := "000000000100"
		if i == 5 {
			amount = "000000116777" // declined 116
		}
		if _, err := bareExchange(g.POSAddr().String(), pack(t, purchaseFields(i, tid(i), amount))); err != nil {
			t.Fatal(err)
		}
	}
	bareExchange(g.POSAddr().String(), []byte("GET / HTTP/1.1\r\n\r\n")) // refused: malformed
	stale := purchaseFields(6, tid(6), "000000000100")
	stale[12] = "150820130600"                         // local time years out of the window
	bareExchange(g.POSAddr().String(), pack(t, stale)) // refused: invalid
	resp, err := http.Get("http://" + g.AdminAddr().String() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	value := func(name string, labels map[string]string) float64 {
		f, ok := fams[name]
		if !ok {
			t.Fatalf("no %s", name)
		}
	next:
		for _, m := range f.Metric {
			for _, l := range m.Label {
				if want, ok := labels[l.GetName()]; ok && want != l.GetValue() {
					continue next
				}
			}
			return metricValue(m)
		}
		return 0
	}
	checks := []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"socketqueue_messages_total", map[string]string{"mti": "0200", "direction": "from_client"}, 5},
		{"socketqueue_messages_total", map[string]string{"mti": "0200", "direction": "to_bank"}, 5},
		{"socketqueue_messages_total", map[string]string{"mti": "0210", "direction": "from_bank"}, 5},
		{"socketqueue_messages_total", map[string]string{"mti": "0210", "direction": "to_client"}, 5},
		{"socketqueue_response_codes_total", map[string]string{"mti": "0210", "code": "000"}, 4},
		{"socketqueue_response_codes_total", map[string]string{"mti": "0210", "code": "116"}, 1},
		{"socketqueue_bank_link_up", nil, 1},
		{"socketqueue_requests_in_flight", nil, 0},
		{"socketqueue_reversals_decided_total", nil, 0},
		{"socketqueue_reply_seconds", nil, 5},
		{"socketqueue_bank_round_trip_seconds", nil, 5},
		{"socketqueue_journal_wait_seconds", nil, 5},
		{"socketqueue_refused_total", map[string]string{"reason": "malformed"}, 1},
		{"socketqueue_refused_total", map[string]string{"reason": "invalid"}, 1},
	}
	for _, c := range checks {
		if got := value(c.name, c.labels); got != c.want {
			t.Errorf("%s%v = %v, want %v", c.name, c.labels, got, c.want)
		}
	}
	// One record at least for each purchase, sent one after the other;
	// settles may take more.
	if w, secs := value("socketqueue_journal_writes_total", nil), value("socketqueue_journal_write_seconds_total", nil); w < 5 || secs <= 0 {
		t.Errorf("journal: %v records written in %v s, want 5 or more in some time", w, secs)
	}
	figures := string(g.cfg.Stats.AppendJSON(nil))
	for _, want := range []string{`"processedAmount":1171.77`, `"securedAmount":4`, `"faultStat":{"116":1}`, `"0200":5`, `"0210":5`} {
		if !strings.Contains(figures, want) {
			t.Errorf("stats %s: no %s", figures, want)
		}
	}
}

func metricValue(m *dto.Metric) float64 {
	switch {
	case m.Counter != nil:
		return m.Counter.GetValue()
	case m.Gauge != nil:
		return m.Gauge.GetValue()
	case m.Histogram != nil:
		return float64(m.Histogram.GetSampleCount())
	}
	return 0
}

// Package metrics exposes the gateway's figures to Prometheus. What is
// counted per message (messages, response codes, latencies) goes into
// tallies of plain numbers, one per event loop, added up when scraped:
// no atomic, lock or Prometheus call per message on a loop. Everything
// the gateway already counts (table occupancy, reversals, link state,
// journal) is read when scraped too.
//
// Invariants: a loop's tally is written by its loop alone and read only
// through it; a scrape's totals never go down (a loop that does not
// answer gives its last figures).
package metrics

import (
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/socketqueue/socketqueue-go/internal/version"
	"github.com/socketqueue/socketqueue-go/isocodec"
)

// Direction says which way a message went.
type Direction uint8

const (
	// FromClient is a request a client sent.
	FromClient Direction = iota
	// ToBank is a message written to the bank.
	ToBank
	// FromBank is a message the bank sent.
	FromBank
	// ToClient is a reply delivered to a client.
	ToClient
	directions
)

var directionNames = [directions]string{"from_client", "to_bank", "from_bank", "to_client"}

// Metrics holds the collectors of one gateway.
type Metrics struct {
	reg *prometheus.Registry

	timeouts prometheus.Counter
	refused  *prometheus.CounterVec

	// The per-message figures are counted in tallies, one per event
	// loop and one shared, and added up when scraped (tallied).
	mu        sync.Mutex
	loops     []*Tally
	shared    *Tally
	linkNames []string
}

// New makes the collectors, with Go runtime and process figures.
func New() *Metrics {
	m := &Metrics{reg: prometheus.NewRegistry(), shared: newTally()}
	m.shared.own.Mu = new(sync.Mutex)
	m.timeouts = prometheus.NewCounter(prometheus.CounterOpts{Name: "socketqueue_timeouts_total",
		Help: "Requests that got no reply within their timeout."})
	m.refused = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "socketqueue_refused_total",
		Help: "Client requests refused before reaching the bank, by reason."}, []string{"reason"})
	v := version.Get()
	build := prometheus.NewGauge(prometheus.GaugeOpts{Name: "socketqueue_build_info",
		Help:        "Always 1; its labels say which build is running.",
		ConstLabels: prometheus.Labels{"version": v.String(), "revision": v.Revision, "goversion": v.Go}})
	build.Set(1)
	m.reg.MustRegister(m.timeouts, m.refused, build, &tallied{m: m},
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// LoopTally makes the tally of one event loop; exec runs a function on
// that loop and reports whether it ran (a scrape waits for it, and uses
// the last figures when it did not). Nil on a nil Metrics.
func (m *Metrics) LoopTally(exec func(func()) bool) *Tally {
	if m == nil {
		return nil
	}
	t := newTally()
	t.own.Exec = exec
	m.mu.Lock()
	m.loops = append(m.loops, t)
	m.mu.Unlock()
	return t
}

// Shared is the tally for goroutines that are no event loop; it locks.
func (m *Metrics) Shared() *Tally {
	if m == nil {
		return nil
	}
	return m.shared
}

// Link names a bank link for its round-trip histogram and returns the
// index Tally.LinkRoundTrip takes.
func (m *Metrics) Link(name string) int {
	if m == nil {
		return -1
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.linkNames = append(m.linkNames, name)
	return len(m.linkNames) - 1
}

// Message counts one message, in the shared tally.
func (m *Metrics) Message(mti isocodec.MTI, d Direction) { m.Shared().Message(mti, d) }

// Code counts a reply's response code, in the shared tally.
func (m *Metrics) Code(mti isocodec.MTI, code []byte) { m.Shared().Code(mti, code) }

// codeSlot places a 1-3 digit code of an MTI in a tally's byCode. Codes
// of different lengths ("05" and "005") get different labels but would
// share a slot; a dialect has one length, so they never meet.
func codeSlot(mti isocodec.MTI, code []byte) (int, bool) {
	if len(code) == 0 || len(code) > 3 || mti[1] < '0' || mti[1] > '9' || mti[2] < '0' || mti[2] > '9' {
		return 0, false
	}
	n := 0
	for _, c := range code {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return (int(mti[1]-'0')*10+int(mti[2]-'0'))*1000 + n, true
}

// Timeout counts a request timed out.
func (m *Metrics) Timeout() {
	if m != nil {
		m.timeouts.Inc()
	}
}

// Refused counts a request refused for reason (invalid, link_down,
// queue_full, stopping).
func (m *Metrics) Refused(reason string) {
	if m != nil {
		m.refused.WithLabelValues(reason).Inc()
	}
}

// Reply observes a client's wait and the bank's round trip, in the
// shared tally.
func (m *Metrics) Reply(wait, roundTrip time.Duration) { m.Shared().Reply(wait, roundTrip) }

// JournalWait observes how long a purchase waited for its record, in
// the shared tally.
func (m *Metrics) JournalWait(d time.Duration) { m.Shared().JournalWait(d) }

// GaugeFunc registers a figure read at scrape time.
func (m *Metrics) GaugeFunc(name, help string, fn func() float64) {
	m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help}, fn))
}

// CounterFunc registers a running total read at scrape time.
func (m *Metrics) CounterFunc(name, help string, fn func() float64) {
	m.reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help}, fn))
}

// LinkGaugeFunc registers a figure of one bank link, labelled link.
func (m *Metrics) LinkGaugeFunc(name, help, link string, fn func() float64) {
	m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help, ConstLabels: prometheus.Labels{"link": link}}, fn))
}

// LinkCounterFunc registers a running total of one bank link, labelled
// link.
func (m *Metrics) LinkCounterFunc(name, help, link string, fn func() float64) {
	m.reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help, ConstLabels: prometheus.Labels{"link": link}}, fn))
}

// Handler serves the text exposition format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}

// Package metrics exposes the gateway's figures to Prometheus. Counters
// on the hot path are resolved once per MTI and direction and then only
// incremented (an atomic add); everything the gateway already counts
// (table occupancy, reversals, link state, journal) is read when scraped,
// so it costs nothing per message.
package metrics

import (
	"net/http"
	"sync"
	"sync/atomic"
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

	messages  *prometheus.CounterVec
	codes     *prometheus.CounterVec
	timeouts  prometheus.Counter
	refused   *prometheus.CounterVec
	reply     prometheus.Histogram
	roundTrip prometheus.Histogram
	linkTrip  *prometheus.HistogramVec
	journal   prometheus.Histogram

	// Counters resolved once per MTI and direction, then shared: the hot
	// path reads a pointer and adds, with no lock.
	byMTI [10000 * int(directions)]atomic.Pointer[prometheus.Counter]
	// Numeric codes (all of smartVista's, most of ISO 8583:1987) by MTI
	// class and function and code, lock-free; others in a map.
	byCode   [100 * 1000]atomic.Pointer[prometheus.Counter]
	mu       sync.Mutex
	oddCodes map[string]prometheus.Counter
}

// New makes the collectors, with Go runtime and process figures.
func New() *Metrics {
	m := &Metrics{reg: prometheus.NewRegistry(), oddCodes: map[string]prometheus.Counter{}}
	buckets := []float64{.0005, .001, .002, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 35}
	m.messages = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "socketqueue_messages_total",
		Help: "ISO-8583 messages by MTI and direction."}, []string{"mti", "direction"})
	m.codes = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "socketqueue_response_codes_total",
		Help: "Bank replies by MTI and response code (field 39)."}, []string{"mti", "code"})
	m.timeouts = prometheus.NewCounter(prometheus.CounterOpts{Name: "socketqueue_timeouts_total",
		Help: "Requests that got no reply within their timeout."})
	m.refused = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "socketqueue_refused_total",
		Help: "Client requests refused before reaching the bank, by reason."}, []string{"reason"})
	m.reply = prometheus.NewHistogram(prometheus.HistogramOpts{Name: "socketqueue_reply_seconds",
		Help: "From a client's request arriving to its reply being handed back.", Buckets: buckets})
	m.roundTrip = prometheus.NewHistogram(prometheus.HistogramOpts{Name: "socketqueue_bank_round_trip_seconds",
		Help: "From a request written to the bank to its reply.", Buckets: buckets})
	m.linkTrip = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "socketqueue_bank_link_round_trip_seconds",
		Help: "From a request written to the bank to its reply, by the link the reply came on.", Buckets: buckets}, []string{"link"})
	m.journal = prometheus.NewHistogram(prometheus.HistogramOpts{Name: "socketqueue_journal_wait_seconds",
		Help:    "From a purchase handed to the journal to its record on disk: what the journal adds before it goes to the bank.",
		Buckets: []float64{.0001, .0002, .0005, .001, .002, .005, .01, .025, .05, .1, .25, 1}})
	v := version.Get()
	build := prometheus.NewGauge(prometheus.GaugeOpts{Name: "socketqueue_build_info",
		Help:        "Always 1; its labels say which build is running.",
		ConstLabels: prometheus.Labels{"version": v.String(), "revision": v.Revision, "goversion": v.Go}})
	build.Set(1)
	m.reg.MustRegister(m.messages, m.codes, m.timeouts, m.refused, m.reply, m.roundTrip, m.linkTrip, m.journal, build,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Message counts one message.
func (m *Metrics) Message(mti isocodec.MTI, d Direction) {
	if m == nil {
		return
	}
	n := 0
	for _, c := range mti {
		if c < '0' || c > '9' {
			return
		}
		n = n*10 + int(c-'0')
	}
	slot := &m.byMTI[n*int(directions)+int(d)]
	c := slot.Load()
	if c == nil {
		counter := m.messages.WithLabelValues(mti.String(), directionNames[d])
		slot.CompareAndSwap(nil, &counter)
		c = slot.Load()
	}
	(*c).Inc()
}

// Code counts a reply's response code.
func (m *Metrics) Code(mti isocodec.MTI, code []byte) {
	if m == nil {
		return
	}
	if i, ok := codeSlot(mti, code); ok {
		slot := &m.byCode[i]
		c := slot.Load()
		if c == nil {
			counter := m.codes.WithLabelValues(mti.String(), string(code))
			slot.CompareAndSwap(nil, &counter)
			c = slot.Load()
		}
		(*c).Inc()
		return
	}
	m.mu.Lock()
	c, ok := m.oddCodes[mti.String()+string(code)]
	if !ok {
		c = m.codes.WithLabelValues(mti.String(), string(code))
		m.oddCodes[mti.String()+string(code)] = c
	}
	m.mu.Unlock()
	c.Inc()
}

// codeSlot places a 1-3 digit code of an MTI in byCode. Codes of
// different lengths ("05" and "005") get different labels but would share
// a slot; a dialect has one length, so they never meet.
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

// Reply observes a client's wait and the bank's round trip (either may be
// zero when unknown).
func (m *Metrics) Reply(wait, roundTrip time.Duration) {
	if m == nil {
		return
	}
	if wait > 0 {
		m.reply.Observe(wait.Seconds())
	}
	if roundTrip > 0 {
		m.roundTrip.Observe(roundTrip.Seconds())
	}
}

// JournalWait observes how long a purchase waited for its record.
func (m *Metrics) JournalWait(d time.Duration) {
	if m != nil {
		m.journal.Observe(d.Seconds())
	}
}

// GaugeFunc registers a figure read at scrape time.
func (m *Metrics) GaugeFunc(name, help string, fn func() float64) {
	m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help}, fn))
}

// CounterFunc registers a running total read at scrape time.
func (m *Metrics) CounterFunc(name, help string, fn func() float64) {
	m.reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help}, fn))
}

// LinkRoundTrip is the round-trip histogram of one bank link, resolved
// once so that observing costs no label lookup.
func (m *Metrics) LinkRoundTrip(link string) prometheus.Observer {
	return m.linkTrip.WithLabelValues(link)
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

package metrics

import (
	"sort"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/socketqueue/socketqueue-go/isocodec"
)

// tallied is the Prometheus collector of the tallies: each scrape reads
// every tally from its owner and adds them up.
type tallied struct {
	m  *Metrics
	mu sync.Mutex // one scrape at a time reads the loops' tallies
}

var (
	messagesDesc = prometheus.NewDesc("socketqueue_messages_total",
		"ISO-8583 messages by MTI and direction.", []string{"mti", "direction"}, nil)
	codesDesc = prometheus.NewDesc("socketqueue_response_codes_total",
		"Bank replies by MTI and response code (field 39).", []string{"mti", "code"}, nil)
	replyDesc = prometheus.NewDesc("socketqueue_reply_seconds",
		"From a client's request arriving to its reply being handed back.", nil, nil)
	roundTripDesc = prometheus.NewDesc("socketqueue_bank_round_trip_seconds",
		"From a request written to the bank to its reply.", nil, nil)
	linkTripDesc = prometheus.NewDesc("socketqueue_bank_link_round_trip_seconds",
		"From a request written to the bank to its reply, by the link the reply came on.", []string{"link"}, nil)
	journalDesc = prometheus.NewDesc("socketqueue_journal_wait_seconds",
		"From a purchase handed to the journal to its record on disk: what the journal adds before it goes to the bank.", nil, nil)
)

func (c *tallied) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{messagesDesc, codesDesc, replyDesc, roundTripDesc, linkTripDesc, journalDesc} {
		ch <- d
	}
}

// totals is the tallies added up.
type totals struct {
	msgs                      map[isocodec.MTI]*[directions]uint64
	codes                     map[[2]string]uint64
	reply, roundTrip, journal hist
	links                     []hist
}

func (c *tallied) sum() (*totals, []string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	m := c.m
	m.mu.Lock()
	tallies := append([]*Tally{m.shared}, m.loops...)
	names := append([]string(nil), m.linkNames...)
	m.mu.Unlock()
	t := &totals{msgs: map[isocodec.MTI]*[directions]uint64{}, codes: map[[2]string]uint64{}, links: make([]hist, len(names))}
	for _, tl := range tallies {
		s := tl.read()
		for _, r := range s.msgs {
			n := t.msgs[r.mti]
			if n == nil {
				n = new([directions]uint64)
				t.msgs[r.mti] = n
			}
			for d := range n {
				n[d] += r.n[d]
			}
		}
		for _, r := range s.codes {
			t.codes[[2]string{r.mti.String(), r.code}] += r.n
		}
		t.reply.add(&s.reply)
		t.roundTrip.add(&s.roundTrip)
		t.journal.add(&s.journal)
		for i := range s.links {
			if i < len(t.links) {
				t.links[i].add(&s.links[i])
			}
		}
	}
	return t, names
}

func (c *tallied) Collect(ch chan<- prometheus.Metric) {
	t, names := c.sum()
	mtis := make([]isocodec.MTI, 0, len(t.msgs))
	for mti := range t.msgs {
		mtis = append(mtis, mti)
	}
	sort.Slice(mtis, func(a, b int) bool { return mtis[a].String() < mtis[b].String() })
	for _, mti := range mtis {
		for d, n := range t.msgs[mti] {
			if n > 0 {
				ch <- prometheus.MustNewConstMetric(messagesDesc, prometheus.CounterValue, float64(n), mti.String(), directionNames[d])
			}
		}
	}
	for k, n := range t.codes {
		ch <- prometheus.MustNewConstMetric(codesDesc, prometheus.CounterValue, float64(n), k[0], k[1])
	}
	ch <- constHistogram(replyDesc, &t.reply, latencyBounds)
	ch <- constHistogram(roundTripDesc, &t.roundTrip, latencyBounds)
	ch <- constHistogram(journalDesc, &t.journal, journalBounds)
	for i, name := range names {
		ch <- constHistogram(linkTripDesc, &t.links[i], latencyBounds, name)
	}
}

// constHistogram shows h as Prometheus does: cumulative counts by upper
// bound, in seconds.
func constHistogram(d *prometheus.Desc, h *hist, bounds []time.Duration, labels ...string) prometheus.Metric {
	buckets := make(map[float64]uint64, len(bounds))
	var cum uint64
	for i, b := range bounds {
		cum += h.bucket[i]
		buckets[b.Seconds()] = cum
	}
	return prometheus.MustNewConstHistogram(d, h.count, h.sum.Seconds(), buckets, labels...)
}

package main

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/moov-io/iso8583"

	"github.com/socketqueue/socketqueue-go/isocodec"
)

// judge is a bank host for the tests that shares no code with the
// gateway's emulator or its scanner: moov-io unpacks every request and
// packs every reply, and the framing (4 ASCII digits) is its own. It
// records what reached it, so a test can count what the gateway sent.
type judge struct {
	t    *testing.T
	ln   net.Listener
	spec *iso8583.MessageSpec

	mu    sync.Mutex
	seen  []seenMsg
	conns map[net.Conn]struct{}
	// answer decides, per request, after how long to answer (ok false:
	// never). Nil: every request after delay.
	answer func(m seenMsg) (time.Duration, bool)
	delay  time.Duration
	rrn    int
	// trailer, when set, follows the next reply in the same write (a
	// bank whose stream goes out of step).
	trailer []byte
}

// seenMsg is one request as the judge read it.
type seenMsg struct {
	MTI, TID, STAN, Amount string
	At                     time.Time
}

func startJudge(t *testing.T, delay time.Duration) *judge {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	j := &judge{t: t, ln: ln, spec: isocodec.SmartVista.Spec, conns: map[net.Conn]struct{}{}, delay: delay}
	go j.accept()
	t.Cleanup(func() {
		ln.Close()
		j.dropLink()
	})
	return j
}

func (j *judge) port() string { return strconv.Itoa(j.ln.Addr().(*net.TCPAddr).Port) }

func (j *judge) accept() {
	for {
		c, err := j.ln.Accept()
		if err != nil {
			return
		}
		j.mu.Lock()
		j.conns[c] = struct{}{}
		j.mu.Unlock()
		go j.serve(c)
	}
}

// dropLink closes every connection, as a bank that goes away.
func (j *judge) dropLink() {
	j.mu.Lock()
	defer j.mu.Unlock()
	for c := range j.conns {
		c.Close()
		delete(j.conns, c)
	}
}

func (j *judge) serve(c net.Conn) {
	defer c.Close()
	r := bufio.NewReader(c)
	var wmu sync.Mutex
	for {
		var head [4]byte
		if _, err := io.ReadFull(r, head[:]); err != nil {
			return
		}
		n, err := strconv.Atoi(string(head[:]))
		if err != nil || n <= 0 || n > 8192 {
			j.t.Errorf("judge: bad frame header %q", head)
			return
		}
		msg := make([]byte, n)
		if _, err := io.ReadFull(r, msg); err != nil {
			return
		}
		req := iso8583.NewMessage(j.spec)
		if err := req.Unpack(msg); err != nil {
			j.t.Errorf("judge: the gateway sent a message moov-io cannot unpack: %v", err)
			return
		}
		mti, _ := req.GetMTI()
		get := func(id int) string { s, _ := req.GetString(id); return s }
		m := seenMsg{MTI: mti, TID: get(41), STAN: get(11), Amount: get(4), At: time.Now()}
		j.mu.Lock()
		j.seen = append(j.seen, m)
		j.rrn++
		rrn := fmt.Sprintf("%012d", j.rrn)
		answer := j.answer
		trailer := j.trailer
		j.trailer = nil
		j.mu.Unlock()
		delay, ok := j.delay, true
		if answer != nil {
			delay, ok = answer(m)
		}
		if !ok {
			continue
		}
		reply, err := j.reply(req, mti, rrn)
		if err != nil {
			j.t.Errorf("judge: %v", err)
			return
		}
		time.AfterFunc(delay, func() {
			wmu.Lock()
			defer wmu.Unlock()
			c.Write(append(append([]byte(fmt.Sprintf("%04d", len(reply))), reply...), trailer...))
		})
	}
}

// reply approves anything: the request's fields, the response MTI (the
// answer to a repeat is the answer to its first: 0401 -> 0410), 39 = 000
// and a new RRN; no PIN block.
func (j *judge) reply(req *iso8583.Message, mti, rrn string) ([]byte, error) {
	out, err := req.Clone()
	if err != nil {
		return nil, err
	}
	resp := []byte(mti)
	resp[2]++
	resp[3] = '0'
	out.MTI(string(resp))
	out.UnsetField(52)
	out.UnsetField(35)
	if err := out.Field(39, "000"); err != nil {
		return nil, err
	}
	if mti[1] == '2' {
		if err := out.Field(37, rrn); err != nil {
			return nil, err
		}
	}
	return out.Pack()
}

// count returns how many requests of mti reached the judge, by TID+STAN.
func (j *judge) count(mti string) map[string]int {
	j.mu.Lock()
	defer j.mu.Unlock()
	out := map[string]int{}
	for _, m := range j.seen {
		if m.MTI == mti {
			out[m.TID+"/"+m.STAN]++
		}
	}
	return out
}

func (j *judge) total(mti string) int {
	n := 0
	for _, c := range j.count(mti) {
		n += c
	}
	return n
}

// metric reads one sample (name with its labels, as exposed) from a
// gateway's /metrics; -1 when absent.
func metric(t *testing.T, httpPort, name string) float64 {
	t.Helper()
	resp, err := http.Get("http://127.0.0.1:" + httpPort + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	for _, line := range strings.Split(string(body), "\n") {
		if v, ok := strings.CutPrefix(line, name+" "); ok {
			f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			if err != nil {
				t.Fatalf("metric %s: %q", name, v)
			}
			return f
		}
	}
	return -1
}

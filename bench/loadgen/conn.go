package loadgen

import (
	"bufio"
	"context"
	"crypto/tls"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	json "github.com/goccy/go-json"
	"github.com/valyala/fasthttp"

	"github.com/socketqueue/socketqueue-go/isocodec"
)

// dial connects connection conn to its target (Addr, or Addrs in turn),
// over TLS when configured.
func (r *run) dial(conn int) (net.Conn, error) {
	addr := r.cfg.Addr
	if n := len(r.cfg.Addrs); n > 0 {
		addr = r.cfg.Addrs[conn%n]
	}
	d := &net.Dialer{Timeout: 5 * time.Second}
	if r.cfg.TLS != nil {
		return tls.DialWithDialer(d, "tcp", addr, r.cfg.TLS)
	}
	return d.Dial("tcp", addr)
}

// bare: a connection per request; the reply is read as one bare message.
func (r *run) bare(ctx context.Context, conn int) []time.Duration {
	var lat []time.Duration
	tid := r.terminal(conn, 0)
	bareFraming, _ := isocodec.FramingByName("bare", isocodec.FramingConfig{Layout: r.cfg.Dialect.Layout})
	var s isocodec.Scan
	buf := make([]byte, 8192)
	tmpl := map[string]*template{}
	var msg []byte
	var st stamps
	var stan [6]byte
	for seq := conn * 1000; ctx.Err() == nil; seq++ {
		var err error
		start := time.Now()
		if msg, err = r.message(msg, tmpl, tid, seq, start, &st, &stan); err != nil {
			r.fail("cannot build: " + err.Error())
			return lat
		}
		c, err := r.dial(conn)
		if err != nil {
			r.fail("connect: " + err.Error())
			sleep(ctx, 10*time.Millisecond)
			continue
		}
		c.SetDeadline(time.Now().Add(40 * time.Second))
		_, err = c.Write(msg)
		n := 0
		var reply []byte
		for err == nil {
			var k int
			k, err = c.Read(buf[n:])
			n += k
			adv, m, serr := bareFraming.Split(buf[:n], err != nil, &s)
			if serr != nil {
				err = serr
				break
			}
			if adv > 0 {
				reply = m
				break
			}
		}
		c.Close()
		if reply == nil {
			if ctx.Err() == nil {
				r.fail("no reply: " + errString(err))
			}
			continue
		}
		if why := r.check(reply, stan[:], tid, &s); why != "" {
			r.fail(why)
			continue
		}
		lat = r.ok(lat, time.Since(start))
	}
	return lat
}

// framed: one persistent connection with InFlight requests outstanding,
// each slot its own terminal; a reply frees its slot.
func (r *run) framed(ctx context.Context, conn int) []time.Duration {
	var lat []time.Duration
	if r.cfg.Pace > 0 && !sleep(ctx, r.cfg.Pace*time.Duration(conn)/time.Duration(r.cfg.Conns)) {
		return lat
	}
	c, err := r.dial(conn)
	if err != nil {
		r.fail("connect: " + err.Error())
		return lat
	}
	defer c.Close()
	stop := context.AfterFunc(ctx, func() { c.SetDeadline(time.Now()) })
	defer stop()
	type pending struct {
		slot int
		at   time.Time
	}
	n := r.cfg.InFlight
	tids := make([]string, n)
	for slot := range tids {
		tids[slot] = r.terminal(conn, slot)
	}
	var mu sync.Mutex
	out := make(map[[6]byte]pending, n) // by STAN: unique among a connection's requests in flight
	free := make(chan int, n)
	for slot := range n {
		free <- slot
	}
	fr := r.cfg.Framing
	done := make(chan struct{})
	go func() { // reader
		defer close(done)
		br := bufio.NewReaderSize(c, 64<<10)
		var s isocodec.Scan
		var data []byte
		chunk := make([]byte, 64<<10)
		for {
			k, err := br.Read(chunk)
			data = append(data, chunk[:k]...)
			for {
				adv, msg, serr := fr.Split(data, false, nil)
				if serr != nil {
					r.fail("bad frame from target")
					return
				}
				if adv == 0 {
					break
				}
				if len(msg) > 0 {
					if err := r.cfg.Dialect.Layout.Scan(msg, &s); err != nil {
						r.fail("reply does not parse")
						return
					}
					var key [6]byte
					copy(key[:], r.cfg.Dialect.Layout.AppendText(key[:0], &s, msg, 11))
					mu.Lock()
					p, ok := out[key]
					delete(out, key)
					mu.Unlock()
					if !ok {
						r.fail("reply for no request")
						return
					}
					if why := r.checkScanned(msg, key[:], tids[p.slot], &s); why != "" {
						r.fail(why)
					} else {
						lat = r.ok(lat, time.Since(p.at))
					}
					free <- p.slot
				}
				data = data[adv:]
			}
			if err != nil {
				return
			}
		}
	}()
	w := bufio.NewWriterSize(c, 64<<10)
	var frame, msg []byte
	tmpls := make([]map[string]*template, n)
	for i := range tmpls {
		tmpls[i] = map[string]*template{}
	}
	seq := conn * 1000
	var st stamps
	for ctx.Err() == nil {
		var slot int
		select {
		case slot = <-free:
		default:
			w.Flush()
			select {
			case slot = <-free:
			case <-ctx.Done():
			case <-done:
				return lat
			}
		}
		if ctx.Err() != nil {
			break
		}
		if r.cfg.Pace > 0 && seq > conn*1000 && !sleep(ctx, r.cfg.Pace) {
			break
		}
		seq++
		var stan [6]byte
		var err error
		now := time.Now()
		if msg, err = r.message(msg, tmpls[slot], tids[slot], seq, now, &st, &stan); err != nil {
			r.fail("cannot build: " + err.Error())
			break
		}
		mu.Lock()
		out[stan] = pending{slot, now}
		mu.Unlock()
		if frame, err = fr.Append(frame[:0], msg); err != nil {
			r.fail("cannot frame")
			break
		}
		w.Write(frame)
	}
	w.Flush()
	c.SetDeadline(time.Now())
	<-done
	return lat
}

func atoi(s string) (int, bool) {
	n := 0
	for _, c := range s {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, true
}

// http: keep-alive JSON requests, one at a time per client (fasthttp's
// client: the generator must not be what limits the run).
func (r *run) http(ctx context.Context, conn int) []time.Duration {
	var lat []time.Duration
	client := &fasthttp.HostClient{Addr: r.cfg.Addr, MaxConns: 1, ReadTimeout: 40 * time.Second, WriteTimeout: 10 * time.Second,
		IsTLS: r.cfg.TLS != nil, TLSConfig: r.cfg.TLS}
	tid := r.terminal(conn, 0)
	tmpl := map[string]*template{}
	req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	scheme := "http://"
	if r.cfg.TLS != nil {
		scheme = "https://"
	}
	req.SetRequestURI(scheme + r.cfg.Addr + "/")
	req.Header.SetMethod(fasthttp.MethodPost)
	req.Header.SetContentType("application/json")
	var msg, body []byte
	var out struct {
		Result map[string]json.RawMessage `json:"result"`
		Errors []string                   `json:"errors"`
	}
	var st stamps
	var stan [6]byte
	for seq := conn * 1000; ctx.Err() == nil; seq++ {
		var err error
		if msg, err = r.message(msg, tmpl, tid, seq, time.Now(), &st, &stan); err != nil {
			r.fail("cannot build: " + err.Error())
			return lat
		}
		body = r.jsonOf(body[:0], msg)
		req.SetBody(body)
		start := time.Now()
		if err := client.DoTimeout(req, resp, 40*time.Second); err != nil {
			if ctx.Err() == nil {
				r.fail("http: " + errString(err))
			}
			continue
		}
		clear(out.Result)
		out.Errors = out.Errors[:0]
		if err := json.Unmarshal(resp.Body(), &out); err != nil || resp.StatusCode() != 200 {
			r.fail("http status " + strconv.Itoa(resp.StatusCode()) + " " + strings.Join(out.Errors, "; "))
			continue
		}
		res := out.Result
		mti, _ := isocodec.ParseMTI(r.wire(res, 0))
		switch {
		case !mti.IsResponse():
			r.fail("reply MTI " + r.wire(res, 0) + " is not a response")
		case r.wire(res, 11) != string(stan[:]):
			r.fail("reply for another STAN")
		case r.wire(res, 41) != "" && r.wire(res, 41) != tid:
			r.fail("reply for another terminal")
		case !r.cfg.Dialect.IsApproved([]byte(r.wire(res, 39))):
			r.fail("response code " + r.wire(res, 39))
		default:
			lat = r.ok(lat, time.Since(start))
		}
	}
	return lat
}

// wire is field id of a reply as on the wire: a string as it is, a
// number (the API's typed replies) padded to the field's length.
func (r *run) wire(res map[string]json.RawMessage, id int) string {
	v := res[strconv.Itoa(id)]
	if len(v) == 0 {
		return ""
	}
	if v[0] == '"' {
		var s string
		if json.Unmarshal(v, &s) != nil {
			return ""
		}
		return s
	}
	if def, ok := r.cfg.Dialect.Field(id); ok {
		if w, err := def.Value(string(v)); err == nil {
			return string(w)
		}
	}
	return string(v)
}

// jsonOf writes a message's fields as the JSON the HTTP API takes: every
// value a string as on the wire (binary as hex).
func (r *run) jsonOf(dst, msg []byte) []byte {
	d := r.cfg.Dialect
	var s isocodec.Scan
	if d.Layout.Scan(msg, &s) != nil {
		return dst
	}
	dst = append(dst, '{')
	first := true
	s.Present.Each(func(id int) bool {
		if id == 1 {
			return true
		}
		if !first {
			dst = append(dst, ',')
		}
		first = false
		dst = append(dst, '"')
		dst = strconv.AppendInt(dst, int64(id), 10)
		dst = append(dst, `":`...)
		var buf [1024]byte
		dst = isocodec.AppendJSONString(dst, string(d.Layout.AppendText(buf[:0], &s, msg, id)))
		return true
	})
	dst = append(dst, `,"0":"`...)
	dst = append(dst, s.MTI[:]...)
	return append(dst, `"}`...)
}

func errString(err error) string {
	if err == nil {
		return "closed"
	}
	var ne net.Error
	if e, ok := err.(net.Error); ok && e.Timeout() {
		return "timeout"
	}
	_ = ne
	return err.Error()
}

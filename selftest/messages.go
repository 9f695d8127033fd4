package selftest

import (
	"strconv"
	"time"

	"github.com/socketqueue/socketqueue-go/isocodec"
)

// next makes the terminal's next request.
func (c *terminal) next() isocodec.Fields {
	c.n++
	if c.pending != nil {
		r := c.pending
		c.pending = nil
		return r
	}
	switch c.cfg.Messages {
	case "purchase":
		return c.purchase()
	case "mix":
		if c.n%2 == 0 {
			return c.purchase()
		}
	}
	return c.echo()
}

func (c *terminal) nextSTAN() string {
	c.stan = c.stan%999999 + 1
	s := strconv.Itoa(c.stan)
	return "000000"[len(s):] + s
}

func (c *terminal) echo() isocodec.Fields {
	f := isocodec.Fields{0: "0800", 3: "990000", 11: c.nextSTAN(), 41: c.tid}
	c.stamp(f, false)
	if _, ok := c.cfg.Dialect.Field(24); ok {
		f[24] = "831"
	}
	if c.cfg.Dialect.Mandatory(isocodec.MTINetwork).Has(63) {
		f[63] = "ECHO"
	}
	return f
}

func (c *terminal) purchase() isocodec.Fields {
	amount := 100 + c.rand.Int64N(9900)
	if r := amount % 1000; r == 777 || r == 888 {
		amount++ // not a magic amount
	}
	a := strconv.FormatInt(amount, 10)
	f := isocodec.Fields{
		0: "0200", 3: "000000", 4: "000000000000"[len(a):] + a, 11: c.nextSTAN(),
		22: "051", 25: "00", 35: c.pan + "=29122012232800000037", 41: c.tid,
		42: "000000000000001", 49: "643",
	}
	if _, ok := c.cfg.Dialect.Field(24); ok {
		f[24] = "200"
	}
	c.stamp(f, true)
	return f
}

// stamp sets transmission time (7) and, for financial messages, local
// time as the dialect keeps it (12, or 12 and 13).
func (c *terminal) stamp(f isocodec.Fields, local bool) {
	now := time.Now()
	f[7] = now.UTC().Format("0102150405")
	if !local {
		return
	}
	if c.cfg.Dialect.Rules.LocalTime == isocodec.LocalTimeField12And13 {
		f[12], f[13] = now.Format("150405"), now.Format("0102")
	} else {
		f[12] = now.Format("060102150405")
	}
}

// check compares the reply with the request and counts a success.
func (c *terminal) check(req isocodec.Fields, msg []byte) string {
	d := c.cfg.Dialect
	var s isocodec.Scan
	if err := d.Layout.Scan(msg, &s); err != nil {
		return "reply does not scan: " + err.Error()
	}
	reqMTI, _ := isocodec.ParseMTI(req[0])
	if s.MTI != reqMTI.Response() {
		return "reply MTI " + s.MTI.String() + " to " + req[0]
	}
	var buf [64]byte
	if tid := d.Layout.AppendText(buf[:0], &s, msg, 41); s.Has(41) && string(tid) != c.tid {
		return "reply for another terminal"
	}
	if stan := d.Layout.AppendText(buf[:0], &s, msg, 11); string(stan) != req[11] {
		return "reply for another trace number"
	}
	// Every message a test client sends (echo, purchase of an ordinary
	// amount, reversal of an approved purchase) is one the bank approves:
	// any other code is a failure, counted by what it means.
	code := string(d.Layout.AppendText(buf[:0], &s, msg, 39))
	if code != d.Rules.ApprovedCode {
		reason := "answered " + code
		if meaning := d.Rules.ResponseCodes[code]; meaning != "" {
			reason += " (" + meaning + ")"
		}
		return reason
	}
	c.tally.add(func(s *Summary) {
		s.OK++
		s.Approved++
		if req[0] == "0400" {
			s.Reversals++
		}
	})
	c.log.Info().Str("mti", s.MTI.String()).Str("stan", req[11]).Str("code", code).Msg("test client: ok")
	if req[0] == "0200" && c.stan%5 == 0 {
		rev := isocodec.Fields{}
		for k, v := range req {
			rev[k] = v
		}
		rev[0] = "0400"
		if _, ok := rev[24]; ok {
			rev[24] = "400"
		}
		rev[7] = time.Now().UTC().Format("0102150405") // 12 stays the original's
		c.pending = rev
	}
	return ""
}

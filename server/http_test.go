package server

import (
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	json "github.com/goccy/go-json"

	"github.com/socketqueue/socketqueue-go/bank"
	"github.com/socketqueue/socketqueue-go/clock"
	"github.com/socketqueue/socketqueue-go/metrics"
)

type apiReply struct {
	Result map[string]any `json:"result"`
	Errors []string       `json:"errors"`
}

func post(t *testing.T, g *Gateway, path, ctype, body string) (int, string) {
	t.Helper()
	resp, err := http.Post("http://"+g.HTTPAddr().String()+path, ctype, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// seedCurl is the seed README's purchase with field 12 set to now.
func seedCurl() string {
	return `{ "0": "0200", "3": "0", "4": 1000, "7": "0818160933", "11": 618160, "12": "` + now12() + `", "22": "056", "24": "200", "25": "00", "35": "4850781234567891=19082012232800000037", "41": 992468, "42": 124642124643, "49": "810", "55": "9f2608571f1e10d4fa4aac9f2701809f100706010a03a4b8029f37045bb074729f3602000c950500800010009a031508189c01009f02060000000010005f2a02064382023c009f1a0206439f03060000000000009f3303e0f0c89f34034403029f3501229f1e0835313230323831358407a00000000310109f41030000565f340101" }`
}

const seedRawEcho = "303830302220010000c00000303030303030303630373136313730303132333435363030303030313233343536313233353637383930313234353637"

func TestHTTPAPI(t *testing.T) {
	b := startBank(t, bank.Faults{}, "")
	g := startGateway(t, b.Addr().String(), nil)

	code, body := post(t, g, "/", "application/json", seedCurl())
	var r apiReply
	if err := json.Unmarshal([]byte(body), &r); err != nil || code != 200 {
		t.Fatalf("purchase: %d %s", code, body)
	}
	if r.Result["0"] != "0210" || r.Result["39"] != 0.0 || r.Result["41"] != "00992468" || r.Result["11"] != "618160" ||
		r.Result["38"] == "" || r.Result["1"] == "" || len(r.Errors) != 0 {
		t.Fatalf("purchase reply %s", body)
	}

	code, body = post(t, g, "/", "application/json",
		`{"0": "0800", "3": "990000", "7": "0818160933", "11": 1, "24": "831", "41": 992468}`)
	if err := json.Unmarshal([]byte(body), &r); err != nil || code != 200 || r.Result["0"] != "0810" {
		t.Fatalf("echo: %d %s", code, body)
	}

	code, body = post(t, g, "/raw", "text/plain", seedRawEcho)
	reply, err := hex.DecodeString(body)
	if code != 200 || err != nil {
		t.Fatalf("raw: %d %q", code, body)
	}
	if f := unpack(t, reply); f[0] != "0810" || f[11] != "123456" || f[39] != "000" {
		t.Fatalf("raw reply %v", f)
	}

	if resp, err := http.Get("http://" + g.HTTPAddr().String() + "/healthz"); err != nil || resp.StatusCode != 200 {
		t.Fatalf("healthz: %v %v", err, resp)
	}
	if tot := b.Host().Ledger().Totals(); tot.Approved != 1 || tot.Echoes != 2 {
		t.Fatalf("bank saw %+v", tot)
	}
}

// TestHTTPReplyAsTheOriginal: the seed README's curl purchase gets the
// seed README's reply, field for field and type for type (the bank's own
// values aside): its numeric fields as numbers, but 7, 11, 12, 22, 41 and
// 42 as strings; with JSONWire every value is the wire's string.
func TestHTTPReplyAsTheOriginal(t *testing.T) {
	b := startBank(t, bank.Faults{}, "")
	readme := map[string]any{ // the seed README's reply, less the bank's own 2, 7, 12, 37, 38
		"0": "0210", "3": 0.0, "4": 1000.0, "11": "618160", "22": "056", "24": 200.0, "25": 0.0, "39": 0.0,
		"41": "00992468", "42": "000124642124643", "49": 810.0,
	}
	for _, wire := range []bool{false, true} {
		g := startGateway(t, b.Addr().String(), func(c *Config) { c.JSONWire = wire })
		stanN := 618160
		if wire {
			stanN = 618161
		}
		code, body := post(t, g, "/", "application/json", strings.Replace(seedCurl(), "618160", strconv.Itoa(stanN), 1))
		var r apiReply
		if err := json.Unmarshal([]byte(body), &r); err != nil || code != 200 {
			t.Fatalf("purchase: %d %s", code, body)
		}
		for k, want := range readme {
			if k == "11" {
				want = strconv.Itoa(stanN)
			}
			if wire {
				if def, _ := sv.Field(atoi(k)); def.Length > 0 {
					if n, ok := want.(float64); ok {
						want = fmt.Sprintf("%0*d", def.Length, int(n))
					}
				}
			}
			if got := r.Result[k]; got != want {
				t.Errorf("wire=%v: field %s is %#v, the README has %#v", wire, k, got, want)
			}
		}
		for _, k := range []string{"7", "12", "1"} {
			if _, ok := r.Result[k].(string); !ok {
				t.Errorf("wire=%v: field %s is %#v, want a string", wire, k, r.Result[k])
			}
		}
	}
}

func atoi(s string) int { n, _ := strconv.Atoi(s); return n }

func TestHTTPRefusals(t *testing.T) {
	b := startBank(t, bank.Faults{}, "")
	g := startGateway(t, b.Addr().String(), nil)
	expired := strings.Replace(seedCurl(), `"12": "`+now12()+`"`, `"12": "150820130600"`, 1)
	tests := []struct {
		name, method, path, body string
		status                   int
		want                     string
	}{
		{"bad JSON", "POST", "/", `{"0": "0200",`, 400, "JSON"},
		{"not an object", "POST", "/", `[1,2]`, 400, ""},
		{"missing mandatory", "POST", "/", `{"0": "0200", "3": "0", "4": 1000, "11": 1, "41": 1}`, 422, "field 7"},
		{"letters in n", "POST", "/", `{"0": "0800", "3": "99000A", "7": "0818160933", "11": 1, "24": "831", "41": 1}`, 422, "field 3"},
		{"too long", "POST", "/", `{"0": "0800", "3": "9900000", "7": "0818160933", "11": 1, "24": "831", "41": 1}`, 422, "field 3"},
		{"expired", "POST", "/", expired, 422, "field 12"},
		{"a response", "POST", "/", `{"0": "0810", "3": "990000", "7": "0818160933", "11": 1, "24": "831", "41": 1, "39": "000"}`, 422, "response"},
		{"bad hex", "POST", "/raw", "zz", 400, "hex"},
		{"hex garbage", "POST", "/raw", "474554202f20485454502f312e31", 422, ""},
		{"unknown path", "POST", "/pay", "{}", 404, "unknown path"},
		{"GET on /", "GET", "/", "", 405, "not allowed"},
		{"field twice", "POST", "/", strings.Replace(seedCurl(), `"4": 1000,`, `"4": 1000, "04": 999999,`, 1), 400, `\"4\", \"04\"`},
		{"signed key", "POST", "/", strings.Replace(seedCurl(), `"4": 1000,`, `"+4": 1000,`, 1), 400, `\"+4\"`},
		{"body over the limit", "POST", "/", `{"0":"0800","48":"` + strings.Repeat("1", MaxHTTPBody) + `"}`, 413, "KiB"},
		{"raw body over the limit", "POST", "/raw", strings.Repeat("30", MaxHTTPBody), 413, "KiB"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest(tc.method, "http://"+g.HTTPAddr().String()+tc.path, strings.NewReader(tc.body))
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tc.status || !strings.Contains(string(body), tc.want) {
				t.Fatalf("got %d %s, want %d with %q", resp.StatusCode, body, tc.status, tc.want)
			}
		})
	}
	if tot := b.Host().Ledger().Totals(); tot != (bank.Totals{}) {
		t.Fatalf("a refused request reached the bank: %+v", tot)
	}
}

func TestHTTPTimeoutAndFull(t *testing.T) {
	b := startBank(t, bank.Faults{MuteEvery: 1}, "")
	g := startGateway(t, b.Addr().String(), func(c *Config) {
		c.QueueTimeout = 300 * time.Millisecond
		c.MaxQueue = 1
	})
	done := make(chan int)
	go func() {
		code, _ := post(t, g, "/", "application/json", strings.Replace(seedCurl(), "618160", "1", 1))
		done <- code
	}()
	// While the first waits for a reply that never comes, the queue is full.
	for g.Table().Held() == 0 {
		time.Sleep(time.Millisecond)
	}
	if code, body := post(t, g, "/", "application/json", strings.Replace(seedCurl(), "618160", "2", 1)); code != 503 || !strings.Contains(body, "queue full") {
		t.Fatalf("over maxQueue: %d %s", code, body)
	}
	if code := <-done; code != 504 {
		t.Fatalf("timeout: %d", code)
	}
}

// TestHTTPEveryErrorAtOnce: a request's errors come back together, one
// entry per field and in field order, with the exact words: a bad number
// beside the fields the checks find wrong, each missing field, and what
// field 12 should be. None reaches the bank; each is logged and counted.
func TestHTTPEveryErrorAtOnce(t *testing.T) {
	b := startBank(t, bank.Faults{}, "")
	now := time.Date(2026, 12, 3, 11, 0, 0, 0, time.UTC)
	g := startGateway(t, b.Addr().String(), func(c *Config) {
		c.Clock, c.Location, c.Metrics = clock.NewManual(now), time.UTC, metrics.New()
	})
	base := `"0": "0200", "3": "0", "7": "1203110000", "22": "056", "24": "200", "25": "00", "41": 992468, "42": 124642124643, "49": "810"`
	for _, tc := range []struct {
		name, body string
		want       []string
	}{
		{"negative and fractional numbers beside a bad time", `{` + base + `, "4": -5, "11": 1.5, "12": "2612031100"}`, []string{
			"field 4: bad value: numbers must be whole and not negative",
			"field 11: bad value: numbers must be whole and not negative",
			"field 12: not a valid date and time: want YYMMDDhhmmss, the terminal's local time", // 10 digits, zero-padded as numbers are
		}},
		{"a time that is no time", `{` + base + `, "4": 5, "11": 1, "12": "261303110000"}`, []string{
			"field 12: not a valid date and time: want YYMMDDhhmmss, the terminal's local time",
		}},
		{"expired", `{` + base + `, "4": 5, "11": 1, "12": "261203105800"}`, []string{
			"field 12: expired: local time too far from now: 2026-12-03 10:58:00 (YYMMDDhhmmss) is 2m0s from the gateway's time 2026-12-03 11:00:00; allowed within 30s",
		}},
		{"missing fields, one entry each", `{"0": "0200", "3": "0", "4": 5, "11": 1, "12": "261203110000", "22": "056", "25": "00", "42": 124642124643, "49": "810"}`, []string{
			"field 7: mandatory field missing",
			"field 24: mandatory field missing",
			"field 41: mandatory field missing",
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, body := post(t, g, "/", "application/json", tc.body)
			var r struct{ Errors []string }
			if err := json.Unmarshal([]byte(body), &r); err != nil || code != 422 || !slices.Equal(r.Errors, tc.want) {
				t.Fatalf("%d %s\nwant 422 with %q", code, body, tc.want)
			}
		})
	}
	if tot := b.Host().Ledger().Totals(); tot != (bank.Totals{}) {
		t.Fatalf("a refused request reached the bank: %+v", tot)
	}
	code, _ := post(t, g, "/", "application/json", "not json")
	if code != 400 {
		t.Fatalf("not JSON: %d", code)
	}
	resp, err := http.Get("http://" + g.AdminAddr().String() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	text, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, line := range []string{`socketqueue_refused_total{reason="invalid"} 4`, `socketqueue_refused_total{reason="malformed"} 1`} {
		if !strings.Contains(string(text), line+"\n") {
			t.Errorf("/metrics has no %s", line)
		}
	}
}

// A port already taken fails the start with its address, and what had
// been opened before it is closed again: the start returns instead of
// waiting on a server that never stops. A gateway's own listeners (set
// SO_REUSEPORT, reuseport.go) are not shared with a second gateway
// either: it fails to start, and the first keeps every client.
func TestStartFailsOnTakenPort(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	bank := startBank(t, bank.Faults{}, "")
	first := startGateway(t, bank.Addr().String(), nil)
	listening := startGateway(t, "", func(c *Config) { c.UpstreamListen = "127.0.0.1:0" })
	for _, tc := range []struct {
		port  string
		addr  string
		takes func(*Config, string)
	}{
		{"admin", taken.Addr().String(), func(c *Config, a string) { c.AdminAddr = a }},
		{"http", taken.Addr().String(), func(c *Config, a string) { c.HTTPAddr = a }},
		{"pos", taken.Addr().String(), func(c *Config, a string) { c.POSAddr = a }},
		{"pos of a gateway", first.POSAddr().String(), func(c *Config, a string) { c.POSAddr = a }},
		{"bank listener of a gateway", listening.UpstreamListenAddr().String(), func(c *Config, a string) { c.UpstreamAddr, c.UpstreamListen = "", a }},
	} {
		t.Run(tc.port, func(t *testing.T) {
			cfg := Config{Dialect: sv, HostFraming: ascii4(t), POSFraming: bareFraming(t),
				POSAddr: "127.0.0.1:0", HTTPAddr: "127.0.0.1:0", AdminAddr: "127.0.0.1:0",
				UpstreamAddr: "127.0.0.1:1", MaxQueue: 10, QueueTimeout: time.Second, Log: testLog()}
			tc.takes(&cfg, tc.addr)
			g, err := New(cfg)
			if err != nil {
				t.Fatal(err)
			}
			done := make(chan error, 1)
			go func() { done <- g.Start() }()
			select {
			case err := <-done:
				if err == nil || !strings.Contains(err.Error(), tc.addr) {
					t.Fatalf("Start: %v, want an error naming %s", err, tc.addr)
				}
			case <-time.After(20 * time.Second):
				t.Fatal("Start did not return on a taken port")
			}
			// The ports it had opened are free again.
			if tc.port == "admin" {
				if c, err := net.Dial("tcp", g.HTTPAddr().String()); err == nil {
					c.Close()
					t.Error("the HTTP API still accepts after the failed start")
				}
			}
		})
	}
	for i := 1; i <= 8; i++ {
		approvedAlone(t, first, i)
	}
}

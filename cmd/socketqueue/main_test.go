package main

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	json "github.com/goccy/go-json"

	"github.com/socketqueue/socketqueue-go/bank"
	"github.com/socketqueue/socketqueue-go/isocodec"
)

var binary string

// TestMain builds the real binary once; the tests run it as a user would.
func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "socketqueue-bin")
	if err != nil {
		panic(err)
	}
	binary = filepath.Join(dir, "socketqueue")
	if out, err := exec.Command("go", "build", "-race", "-buildvcs=auto", "-o", binary, ".").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "build: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// proc is a running socketqueue.
type proc struct {
	cmd    *exec.Cmd
	stdout strings.Builder
	lines  chan string // stderr, line by line
	done   chan error
	ready  string // the line start waited for

	mu  sync.Mutex
	log []string // stderr's lines (the first 200 000), for a failing test to show
}

// keep remembers line.
func (p *proc) keep(line string) {
	p.mu.Lock()
	if len(p.log) < 200_000 {
		p.log = append(p.log, line)
	}
	p.mu.Unlock()
}

// grep returns the log lines that contain each of words.
func (p *proc) grep(words ...string) []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []string
next:
	for _, l := range p.log {
		for _, w := range words {
			if !strings.Contains(l, w) {
				continue next
			}
		}
		out = append(out, l)
	}
	return out
}

// start runs the binary and waits until stderr shows a line containing
// ready (the process logs it once it listens).
func start(t *testing.T, ready string, args ...string) *proc {
	t.Helper()
	p := &proc{cmd: exec.Command(binary, args...), lines: make(chan string, 1024), done: make(chan error, 1)}
	p.cmd.Stdout = &p.stdout
	stderr, err := p.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		s := bufio.NewScanner(stderr)
		for s.Scan() {
			p.keep(s.Text())
			select {
			case p.lines <- s.Text():
			default:
			}
		}
		close(p.lines)
		p.done <- p.cmd.Wait()
	}()
	t.Cleanup(func() {
		p.cmd.Process.Kill()
		<-p.done
		if t.Failed() {
			p.mu.Lock()
			p.saveLog(t, args)
			tail := p.log[max(0, len(p.log)-150):]
			t.Logf("socketqueue %s: last lines of its log:\n%s", strings.Join(args, " "), strings.Join(tail, "\n"))
			p.mu.Unlock()
		}
	})
	deadline := time.After(20 * time.Second)
	for {
		select {
		case line, ok := <-p.lines:
			if !ok {
				t.Fatalf("socketqueue %v exited before %q", args, ready)
			}
			if strings.Contains(line, ready) {
				p.ready = line
				return p
			}
		case <-deadline:
			t.Fatalf("socketqueue %v: no %q within 20 s", args, ready)
		}
	}
}

// saveLog writes the whole log to $SOCKETQUEUE_TEST_LOGS, when set, for
// a failure the last lines do not explain. Callers hold mu.
func (p *proc) saveLog(t *testing.T, args []string) {
	dir := os.Getenv("SOCKETQUEUE_TEST_LOGS")
	if dir == "" {
		return
	}
	name := filepath.Join(dir, strings.NewReplacer("/", "_", " ", "_").Replace(t.Name())+"-"+strconv.Itoa(p.cmd.Process.Pid)+".log")
	body := strings.Join(append([]string{strings.Join(args, " ")}, p.log...), "\n") + "\n"
	if err := os.WriteFile(name, []byte(body), 0o644); err != nil {
		t.Logf("log not saved: %v", err)
		return
	}
	t.Logf("whole log of socketqueue %s in %s", args[len(args)-1], name)
}

// stop sends SIGTERM and returns the exit code.
func (p *proc) stop(t *testing.T) int {
	t.Helper()
	p.cmd.Process.Signal(syscall.SIGTERM)
	go func() {
		for range p.lines {
		}
	}()
	select {
	case <-p.done:
	case <-time.After(20 * time.Second):
		t.Fatal("no exit 20 s after SIGTERM")
	}
	p.done <- nil // for the cleanup
	return p.cmd.ProcessState.ExitCode()
}

func runBinary(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var o, e strings.Builder
	cmd := exec.Command(binary, args...)
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	if _, ok := err.(*exec.ExitError); err != nil && !ok {
		t.Fatal(err)
	}
	return o.String(), e.String(), cmd.ProcessState.ExitCode()
}

func TestHelpAndUsageErrors(t *testing.T) {
	out, _, code := runBinary(t, "--help")
	if code != 0 || !strings.Contains(out, "Bank emulator") || !strings.Contains(out, "--echoServerPort") {
		t.Fatalf("--help: exit %d\n%s", code, out)
	}
	out, _, code = runBinary(t, "-h")
	if code != 0 || !strings.HasPrefix(out, "Usage: socketqueue") {
		t.Fatalf("-h: exit %d\n%s", code, out)
	}
	// The test binary is built in the checkout: the go tool stamps the
	// commit (where git is there to read it), which --version, the
	// start line and /metrics all give.
	out, _, code = runBinary(t, "--version")
	if code != 0 || !regexp.MustCompile(`^socketqueue (v[0-9]\S+|devel) \(revision ([0-9a-f]{12}(-dirty)?|unknown), go1\.[0-9.]+\)\n$`).MatchString(out) {
		t.Fatalf("--version: exit %d, %q", code, out)
	}
	out, _, code = runBinary(t, "--helpJson")
	var entries []map[string]string
	if code != 0 || json.Unmarshal([]byte(out), &entries) != nil || len(entries) < 40 {
		t.Fatalf("--helpJson: exit %d, %d entries", code, len(entries))
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--echoServerPrt=5000"}, "unknown option --echoServerPrt"},
		{[]string{"--echoServerPort=x"}, "--echoServerPort"},
		{nil, "nothing to do"},
		{[]string{"--echoServerPort=1", "--hostConfig=visa"}, "--hostConfig"},
		// TLS options that cannot work are refused, naming what is missing.
		{[]string{"--journal=off", "--upstreamHost=127.0.0.1", "--upstreamPort=1", "--listenHttpPort=0", "--listenPort=1", "--upstreamTlsCa=ca.pem"}, "need --upstreamTls"},
		{[]string{"--journal=off", "--upstreamListenPort=1", "--listenPort=1", "--upstreamTls"}, "--upstreamTlsCert and --upstreamTlsKey"},
		{[]string{"--journal=off", "--upstreamHost=127.0.0.1", "--upstreamPort=1", "--listenPort=1", "--listenTlsCert=x.pem"}, "--listenTlsCert and --listenTlsKey go together"},
		{[]string{"--journal=off", "--upstreamHost=127.0.0.1", "--upstreamPort=1", "--listenPort=1", "--upstreamTls", "--upstreamTlsCa=/nonexistent/ca.pem"}, "/nonexistent/ca.pem"},
		{[]string{"--echoServerPort=1", "--bankTls"}, "--bankTlsCert and --bankTlsKey"},
		{[]string{"--echoServerPort=1", "--bankConnectPort=2"}, "listens (--echoServerPort) or connects (--bankConnectPort)"},
		{[]string{"--echoServerPort=1", "--bankTls", "--bankTlsCert=/nonexistent/b.pem", "--bankTlsKey=/nonexistent/b.key"}, "/nonexistent/b.pem"},
		{[]string{"--testClients=1", "--testTargetPort=1", "--testTlsCa=ca.pem"}, "need --testTls"},
		// Several links.
		{[]string{"--journal=off", "--upstream=127.0.0.1", "--listenPort=1"}, `--upstream: "127.0.0.1" is not host:port`},
		{[]string{"--journal=off", "--upstream=127.0.0.1:1,127.0.0.1:1", "--listenPort=1"}, "given twice"},
		{[]string{"--journal=off", "--upstream=127.0.0.1:1", "--upstreamHost=127.0.0.1", "--upstreamPort=2", "--listenPort=1"}, "instead of --upstreamHost"},
		{[]string{"--journal=off", "--upstream=127.0.0.1:1", "--upstreamPolicy=random", "--listenPort=1"}, "--upstreamPolicy"},
		{[]string{"--journal=off", "--upstream=127.0.0.1:1", "--upstreamSignOnCode=1", "--listenPort=1"}, "--upstreamSignOnCode"},
		{[]string{"--bankPorts=5001"}, "--bankPorts are more ports beside --echoServerPort"},
		// Found at start, not at each echo.
		{[]string{"--journal=off", "--upstreamHost=127.0.0.1", "--upstreamPort=1", "--listenPort=1", "--upstreamEchoTid=1234"},
			`--upstreamEchoTid "1234" does not fit field 41 of smartVista: field 41 at offset 0: bad value: 4, field takes exactly 8`},
		{[]string{"--journal=off", "--upstreamHost=127.0.0.1", "--upstreamPort=1", "--listenPort=1", "--queueMessageKeyFields=11,abc"}, "--queueMessageKeyFields"},
		{[]string{"-c", "/nonexistent/gw.json"}, "/nonexistent/gw.json"},
	} {
		_, errOut, code := runBinary(t, tc.args...)
		if code != 2 || !strings.Contains(errOut, tc.want) {
			t.Errorf("%v: exit %d, stderr %q; want 2 and %q", tc.args, code, errOut, tc.want)
		}
	}
}

// TestStandaloneBank is the seed README's "Socket Bank" command with the
// original's sample purchase (field 12 refreshed): approved, with 2, 37
// and 38; GET /bank shows it; SIGTERM exits 0 with a ledger summary.
func TestStandaloneBank(t *testing.T) {
	port, httpPort := freePort(t), freePort(t)
	p := start(t, "bank ledger at GET /bank", "--vv", "--echoServerPort="+strconv.Itoa(port), "--bankHttpPort="+strconv.Itoa(httpPort))

	framed, err := os.ReadFile("../../isocodec/testdata/sv_200_purchase_header.bin")
	if err != nil {
		t.Fatal(err)
	}
	msg := framed[4:]
	var s isocodec.Scan
	if err := isocodec.SmartVista.Layout.Scan(msg, &s); err != nil {
		t.Fatal(err)
	}
	fresh, err := isocodec.SmartVista.Layout.AppendEdited(nil, s.MTI, msg, &s, isocodec.Set(12, []byte(time.Now().Format("060102150405"))))
	if err != nil {
		t.Fatal(err)
	}
	conn, err := net.Dial("tcp", "127.0.0.1:"+strconv.Itoa(port))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := conn.Write(append(fmt.Appendf(nil, "%04d", len(fresh)), fresh...)); err != nil {
		t.Fatal(err)
	}
	var hdr [4]byte
	if _, err := io.ReadFull(conn, hdr[:]); err != nil {
		t.Fatal(err)
	}
	n, _ := strconv.Atoi(string(hdr[:]))
	reply := make([]byte, n)
	if _, err := io.ReadFull(conn, reply); err != nil {
		t.Fatal(err)
	}
	f, err := isocodec.SmartVista.Unpack(reply)
	if err != nil {
		t.Fatal(err)
	}
	if f[0] != "0210" || f[39] != "000" || f[2] != "4850781234567891" || len(f[37]) != 12 || len(f[38]) != 6 {
		t.Fatalf("reply %v", f)
	}

	resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/bank", httpPort))
	if err != nil {
		t.Fatal(err)
	}
	var snap bank.Snapshot
	err = json.NewDecoder(resp.Body).Decode(&snap)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	if snap.Totals.Approved != 1 || len(snap.Accounts) != 1 || snap.Accounts[0].Balance != bank.DefaultBalance-1000 ||
		snap.Accounts[0].PAN != "485078******7891" || snap.Transactions[0].RRN != f[37] {
		t.Fatalf("snapshot %+v", snap)
	}

	if code := p.stop(t); code != 0 {
		t.Fatalf("exit %d after SIGTERM", code)
	}
	if out := p.stdout.String(); !strings.Contains(out, "1 approved (10.00)") {
		t.Fatalf("no ledger summary at exit: %q", out)
	}
}

// TestClientsAgainstBankBinary: the seed README's two-process setup, with
// the test clients talking straight to the emulator.
func TestClientsAgainstBankBinary(t *testing.T) {
	port := strconv.Itoa(freePort(t))
	bankProc := start(t, "bank emulator listening", "--v", "--echoServerPort="+port)
	out, errOut, code := runBinary(t, "--testTargetHost=127.0.0.1", "--testTargetPort="+port, "--testClients=5",
		"--testRounds=6", "--testFraming=header", "--testMessages=purchase", "--testPauseMin=0", "--testPauseMax=0", "--vv")
	if code != 0 || !strings.Contains(out, "30 sent, 30 ok (30 approved), 0 failed, 5 reversals") {
		t.Fatalf("exit %d\nstdout %s\nstderr %s", code, out, errOut)
	}
	if !strings.Contains(errOut, "test client: ok") {
		t.Fatalf("--vv logs no outcomes: %s", errOut)
	}
	if code := bankProc.stop(t); code != 0 {
		t.Fatalf("bank exit %d", code)
	}
	if s := bankProc.stdout.String(); !strings.Contains(s, "25 approved") || !strings.Contains(s, "5 reversals") {
		t.Fatalf("ledger summary %q", s)
	}
}

// TestClientsFailAgainstNothing: failures are counted and the exit code
// says so.
func TestClientsFailAgainstNothing(t *testing.T) {
	port := strconv.Itoa(freePort(t))
	out, _, code := runBinary(t, "--testTargetHost=127.0.0.1", "--testTargetPort="+port, "--testClients=2", "--testRounds=1")
	if code != 1 || !strings.Contains(out, "2 failed") || !strings.Contains(out, "connection refused") {
		t.Fatalf("exit %d, %s", code, out)
	}
}

// TestGatewayWithoutBank: a gateway whose bank is not there says when it
// tries again, with the unit; with the journal off, the clean stop says
// nothing of a journal keeping anything; a SOCKETQUEUE_ variable that
// names no option is a warning.
func TestGatewayWithoutBank(t *testing.T) {
	t.Setenv("SOCKETQUEUE_LISTEN_PROT", "2014") // misspelt: a warning, not silence
	gw := start(t, "bank link: connect failed", "--journal=off", "--upstreamHost=127.0.0.1", "--upstreamPort="+strconv.Itoa(freePort(t)),
		"--listenPort="+strconv.Itoa(freePort(t)))
	if !strings.Contains(gw.ready, "retry_in=10s") {
		t.Errorf("connect failure: %q, want retry_in=10s", gw.ready)
	}
	if code := gw.stop(t); code != 0 {
		t.Fatalf("exit %d", code)
	}
	if lines := gw.grep("journal keeps"); len(lines) != 0 {
		t.Errorf("journal off, yet: %q", lines)
	}
	if lines := gw.grep("WRN environment variable names no option", "variable=SOCKETQUEUE_LISTEN_PROT"); len(lines) != 1 {
		t.Errorf("the misspelt variable: %q", gw.grep("SOCKETQUEUE_"))
	}
}

// TestGatewayWithEmulator is `make run`: gateway and emulator in one
// process; the seed README's curl requests (field 12 set to now), its
// /raw echo and a bare POS echo all work; SIGTERM exits 0.
func TestGatewayWithEmulator(t *testing.T) {
	bankPort, posPort, httpPort := strconv.Itoa(freePort(t)), strconv.Itoa(freePort(t)), strconv.Itoa(freePort(t))
	p := start(t, "bank link up", "--dataDir="+t.TempDir(), "--echoServerPort="+bankPort, "--upstreamHost=127.0.0.1", "--upstreamPort="+bankPort,
		"--listenPort="+posPort, "--listenHttpPort="+httpPort, "--v")
	base := "http://127.0.0.1:" + httpPort

	purchase := `{ "0": "0200", "3": "0", "4": 1000, "7": "0818160933", "11": 618160, "12": "` + time.Now().Format("060102150405") +
		`", "22": "056", "24": "200", "25": "00", "35": "4850781234567891=19082012232800000037", "41": 992468, "42": 124642124643, "49": "810", "55": "9f2608571f1e10d4fa4aac9f2701809f100706010a03a4b8029f37045bb074729f3602000c950500800010009a031508189c01009f02060000000010005f2a02064382023c009f1a0206439f03060000000000009f3303e0f0c89f34034403029f3501229f1e0835313230323831358407a00000000310109f41030000565f340101" }`
	var out struct {
		Result map[string]any `json:"result"`
		Errors []string       `json:"errors"`
	}
	resp, err := http.Post(base, "application/json", strings.NewReader(purchase))
	if err != nil {
		t.Fatal(err)
	}
	err = json.NewDecoder(resp.Body).Decode(&out)
	resp.Body.Close()
	if err != nil || resp.StatusCode != 200 || out.Result["0"] != "0210" || out.Result["39"] != 0.0 || len(out.Errors) != 0 {
		t.Fatalf("purchase: %d %+v %v", resp.StatusCode, out, err)
	}
	// The seed README's reply shape: numbers where it has numbers.
	for k, want := range map[string]any{"3": 0.0, "4": 1000.0, "11": "618160", "22": "056", "24": 200.0, "25": 0.0,
		"41": "00992468", "42": "000124642124643", "49": 810.0} {
		if out.Result[k] != want {
			t.Errorf("reply field %s is %#v, the seed README has %#v", k, out.Result[k], want)
		}
	}

	resp, err = http.Post(base+"/raw", "text/plain", strings.NewReader("303830302220010000c00000303030303030303630373136313730303132333435363030303030313233343536313233353637383930313234353637"))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.HasPrefix(string(body), "30383130") { // "0810"
		t.Fatalf("raw: %d %s", resp.StatusCode, body)
	}

	echo, err := os.ReadFile("../../isocodec/testdata/sv_800_echo.bin")
	if err != nil {
		t.Fatal(err)
	}
	conn, err := net.Dial("tcp", "127.0.0.1:"+posPort)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	conn.Write(echo)
	reply, err := io.ReadAll(conn)
	if err != nil {
		t.Fatal(err)
	}
	if f, err := isocodec.SmartVista.Unpack(reply); err != nil || f[0] != "0810" || f[11] != "123456" || f[41] != "00123456" {
		t.Fatalf("bare echo: %v %v", f, err)
	}
	if code := p.stop(t); code != 0 {
		t.Fatalf("exit %d", code)
	}
	if !strings.Contains(p.stdout.String(), "1 approved (10.00)") {
		t.Fatalf("ledger summary: %q", p.stdout.String())
	}
}

// TestTestClientsThroughGateway: the seed README's two commands, gateway
// with emulator and then the test clients against its POS port.
func TestTestClientsThroughGateway(t *testing.T) {
	bankPort, posPort := strconv.Itoa(freePort(t)), strconv.Itoa(freePort(t))
	start(t, "bank link up", "--dataDir="+t.TempDir(), "--echoServerPort="+bankPort, "--upstreamHost=localhost", "--upstreamPort="+bankPort,
		"--listenPort="+posPort, "--vv")
	out, errOut, code := runBinary(t, "--testTargetHost=localhost", "--testTargetPort="+posPort, "--testClients=10",
		"--testRounds=6", "--testMessages=mix", "--testPauseMin=0", "--testPauseMax=0.05")
	if code != 0 || !strings.Contains(out, "60 sent, 60 ok") {
		t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
	}
}

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
	"strconv"
	"strings"
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
	if out, err := exec.Command("go", "build", "-race", "-o", binary, ".").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "build: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// freePort asks the kernel for a port nobody is using right now.
func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// proc is a running socketqueue.
type proc struct {
	cmd    *exec.Cmd
	stdout strings.Builder
	lines  chan string // stderr, line by line
	done   chan error
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
	})
	deadline := time.After(20 * time.Second)
	for {
		select {
		case line, ok := <-p.lines:
			if !ok {
				t.Fatalf("socketqueue %v exited before %q", args, ready)
			}
			if strings.Contains(line, ready) {
				return p
			}
		case <-deadline:
			t.Fatalf("socketqueue %v: no %q within 20 s", args, ready)
		}
	}
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

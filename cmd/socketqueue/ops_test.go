package main

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	json "github.com/goccy/go-json"
)

// TestOperations: the stat server and GET /stats give the same figures,
// the dump file carries them across a restart, SIGHUP resets them and
// starts a new log file at the old path, and the pid file lives as long
// as the process.
func TestOperations(t *testing.T) {
	dir := t.TempDir()
	bankPort, posPort, httpPort, statPort := strconv.Itoa(freePort(t)), strconv.Itoa(freePort(t)), strconv.Itoa(freePort(t)), strconv.Itoa(freePort(t))
	logFile, dump, pid := filepath.Join(dir, "gw.log"), filepath.Join(dir, "stats.json"), filepath.Join(dir, "gw.pid")
	args := []string{"--v", "--dataDir=" + dir, "--echoServerPort=" + bankPort, "--upstreamHost=127.0.0.1", "--upstreamPort=" + bankPort,
		"--listenPort=" + posPort, "--adminPort=" + httpPort, "--statServerPort=" + statPort,
		"--statDumpFile=" + dump, "--logFile=" + logFile, "--pidFile=" + pid}
	p := start(t, "bank link up", args...)
	if b, err := os.ReadFile(pid); err != nil || strings.TrimSpace(string(b)) != strconv.Itoa(p.cmd.Process.Pid) {
		t.Fatalf("pid file %q %v", b, err)
	}
	for i := 1; i <= 3; i++ {
		if _, err := bare("127.0.0.1:"+posPort, purchaseMsg(t, i)); err != nil {
			t.Fatal(err)
		}
	}
	want := `{"securedAmount":3,"processedAmount":3,"refundAmount":0,"reversalAmount":0,"faultStat":{},"packetCount":{"total":6,"0200":3,"0210":3}}`
	if got := statLine(t, statPort); got != want {
		t.Fatalf("stat server\n%s\nwant\n%s", got, want)
	}
	// /stats: the same figures, then the state of each bank link.
	if got := httpStats(t, httpPort); !strings.HasPrefix(got, strings.TrimSuffix(want, "}")+`,"links":[{"link":"`) {
		t.Fatalf("/stats\n%s", got)
	}

	// Which build runs: --version, the start line and /metrics agree.
	out, _, _ := runBinary(t, "--version")
	ver := strings.Fields(out)[1]
	if lines := p.grep("gateway listening", "version="+ver); len(lines) != 1 {
		t.Errorf("start line without version=%s: %q", ver, p.grep("gateway listening"))
	}
	resp, err := http.Get("http://127.0.0.1:" + httpPort + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if re := regexp.MustCompile(`(?m)^socketqueue_build_info\{goversion="go[0-9.]+",revision="([0-9a-f]{12}(-dirty)?|unknown)",version="` + regexp.QuoteMeta(ver) + `"\} 1$`); !re.Match(body) {
		t.Errorf("/metrics has no socketqueue_build_info for %s", ver)
	}

	// SIGUSR1, what the shipped logrotate sends: a new log file, the
	// figures kept. SIGUSR2: the figures reset, the file kept.
	os.Rename(logFile, logFile+".0")
	p.cmd.Process.Signal(syscall.SIGUSR1)
	waitFor(t, "a new log file after SIGUSR1", func() bool { _, err := os.Stat(logFile); return err == nil })
	if got := statLine(t, statPort); got != want {
		t.Fatalf("after SIGUSR1 the figures changed: %s", got)
	}
	p.cmd.Process.Signal(syscall.SIGUSR2)
	waitFor(t, "the figures reset by SIGUSR2", func() bool { return strings.Contains(statLine(t, statPort), `"total":0`) })
	waitFor(t, "SIGUSR2 in the reopened log", func() bool {
		b, _ := os.ReadFile(logFile)
		return strings.Contains(string(b), "SIGUSR2: statistics reset")
	})
	if rot, err := os.ReadFile("../../deploy/logrotate.conf"); err != nil || !strings.Contains(string(rot), "kill -USR1 ") {
		t.Errorf("the shipped logrotate does not send SIGUSR1: %v", err)
	}
	for i := 1; i <= 3; i++ {
		bare("127.0.0.1:"+posPort, purchaseMsg(t, 10+i))
	}

	// logrotate moves the file; SIGHUP makes a new one and resets.
	os.Rename(logFile, logFile+".1")
	p.cmd.Process.Signal(syscall.SIGHUP)
	waitFor(t, "a new log file", func() bool { _, err := os.Stat(logFile); return err == nil })
	if got := statLine(t, statPort); !strings.Contains(got, `"total":0`) {
		t.Fatalf("after SIGHUP: %s", got)
	}
	bare("127.0.0.1:"+posPort, purchaseMsg(t, 4))
	if code := p.stop(t); code != 0 {
		t.Fatalf("exit %d", code)
	}
	// A clean stop closes the link itself: not a warning.
	if lines := p.grep("WRN", "bank link down"); len(lines) != 0 {
		t.Errorf("warned of the link closed by a clean stop: %q", lines)
	}
	old, _ := os.ReadFile(logFile + ".0") // the first file, before SIGUSR1
	fresh, _ := os.ReadFile(logFile)
	if !strings.Contains(string(old), "bank link up") || !strings.Contains(string(fresh), "SIGHUP") || strings.Contains(string(fresh), "bank link up") {
		t.Fatalf("log files: old %d bytes, new %q", len(old), fresh)
	}
	if _, err := os.Stat(pid); !os.IsNotExist(err) {
		t.Fatal("pid file left behind")
	}
	var saved map[string]any
	b, _ := os.ReadFile(dump)
	if err := json.Unmarshal(b, &saved); err != nil || saved["processedAmount"].(float64) != 1 {
		t.Fatalf("dump file %s: %v", b, err)
	}
	// The next run starts from the dump.
	p = start(t, "bank link up", args...)
	if got := statLine(t, statPort); !strings.Contains(got, `"processedAmount":1,`) {
		t.Fatalf("after restart: %s", got)
	}
	p.stop(t)
}

func statLine(t *testing.T, port string) string {
	t.Helper()
	c, err := net.Dial("tcp", "127.0.0.1:"+port)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	if rest, _ := io.ReadAll(c); len(rest) != 0 {
		t.Fatalf("more than one line: %q", rest)
	}
	return strings.TrimSuffix(line, "\n")
}

func httpStats(t *testing.T, port string) string {
	t.Helper()
	resp, err := http.Get("http://127.0.0.1:" + port + "/stats")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

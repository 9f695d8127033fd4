package main

import (
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestAPICredentialsAndAdminPort: with --apiTokens, a payment without a
// credential or with a wrong one is a 401 and never reaches the bank;
// the right one is served and its name is in the log. /metrics and
// /stats are on the admin port only, with /livez and /readyz beside
// /healthz. Requests are made with curl where it is installed.
func TestAPICredentialsAndAdminPort(t *testing.T) {
	dir := t.TempDir()
	tokens := filepath.Join(dir, "tokens")
	const token = "s3cret-token-of-shop-one"
	if err := os.WriteFile(tokens, []byte("# back ends\nshop1 "+token+"\nshop2 another-token-for-two\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	bankPort, bankHTTP, httpPort, adminPort := strconv.Itoa(freePort(t)), strconv.Itoa(freePort(t)), strconv.Itoa(freePort(t)), strconv.Itoa(freePort(t))
	logFile := filepath.Join(dir, "gw.log")
	gw := start(t, "bank link up", "--vv", "--dataDir="+dir, "--echoServerPort="+bankPort, "--bankHttpPort="+bankHTTP,
		"--upstreamHost=127.0.0.1", "--upstreamPort="+bankPort, "--listenHttpPort="+httpPort, "--adminPort="+adminPort,
		"--apiTokens="+tokens, "--logFile="+logFile)
	api := "http://127.0.0.1:" + httpPort + "/"
	body := strings.Replace(purchaseJSON(), `"11": 618160`, `"11": 1`, 1)
	for _, tc := range []struct {
		name, auth string
		status     int
	}{
		{"no credential", "", 401},
		{"a wrong token", "Bearer not-the-token-at-all", 401},
		{"not bearer", "Basic " + token, 401},
		{"the token", "Bearer " + token, 200},
	} {
		status, out := request(t, "POST", api, tc.auth, body)
		if status != tc.status {
			t.Fatalf("%s: %d %s", tc.name, status, out)
		}
		if status == 401 && bankTotals(t, bankHTTP).Approved != 0 {
			t.Fatalf("%s: a refused request reached the bank", tc.name)
		}
	}
	if n := bankTotals(t, bankHTTP).Approved; n != 1 {
		t.Fatalf("%d purchases at the bank, want 1", n)
	}
	for _, path := range []string{"metrics", "stats"} {
		if status, _ := request(t, "GET", api+path, "Bearer "+token, ""); status != 404 {
			t.Errorf("/%s on the payments port: %d", path, status)
		}
	}
	admin := "http://127.0.0.1:" + adminPort + "/"
	for _, path := range []string{"livez", "readyz", "healthz", "stats"} {
		if status, out := request(t, "GET", admin+path, "", ""); status != 200 {
			t.Errorf("admin /%s: %d %s", path, status, out)
		}
	}
	if status, _ := request(t, "GET", admin+"debug/pprof/", "", ""); status != 404 {
		t.Errorf("the profiler is served without --adminPprof: %d", status)
	}
	if _, out := request(t, "GET", admin+"metrics", "", ""); !strings.Contains(out, `socketqueue_refused_total{reason="unauthorized"} 3`) {
		t.Errorf("the refusals are not counted:\n%s", grepLines(out, "refused"))
	}
	gw.stop(t)
	if logs, _ := os.ReadFile(logFile); !strings.Contains(string(logs), "shop1") {
		t.Error("the credential's name is not in the log")
	}
}

// TestAdminPprof: --adminPprof serves Go's profiler on the admin port,
// and only there; without an admin port it is a usage error.
func TestAdminPprof(t *testing.T) {
	adminPort := strconv.Itoa(freePort(t))
	start(t, "gateway listening", "--v", "--journal=off", "--upstreamHost=127.0.0.1", "--upstreamPort=1",
		"--listenPort="+strconv.Itoa(freePort(t)), "--adminPort="+adminPort, "--adminPprof")
	status, out := request(t, "GET", "http://127.0.0.1:"+adminPort+"/debug/pprof/goroutine?debug=1", "", "")
	if status != 200 || !strings.Contains(out, "goroutine profile:") {
		t.Errorf("/debug/pprof/goroutine: %d %.200s", status, out)
	}
	if _, stderr, code := runBinary(t, "--journal=off", "--upstreamHost=127.0.0.1", "--upstreamPort=1",
		"--listenPort="+strconv.Itoa(freePort(t)), "--adminPprof"); code != 2 || !strings.Contains(stderr, "--adminPort") {
		t.Errorf("--adminPprof without --adminPort: exit %d\n%s", code, stderr)
	}
}

// TestAPIOffLoopbackNeedsCredentials: an HTTP API bound off loopback
// without --apiTokens does not start, and says what to do; with
// --apiAuth=off it starts and says the API is open. Logs show the
// address actually bound.
func TestAPIOffLoopbackNeedsCredentials(t *testing.T) {
	httpPort := strconv.Itoa(freePort(t))
	args := []string{"--v", "--dataDir=" + t.TempDir(), "--upstreamHost=127.0.0.1", "--upstreamPort=1",
		"--listenHttpHost=0.0.0.0", "--listenHttpPort=" + httpPort}
	_, stderr, code := runBinary(t, args...)
	if code != 2 || !strings.Contains(stderr, "--apiTokens") {
		t.Fatalf("exit %d:\n%s", code, stderr)
	}
	p := start(t, "HTTP API open to anyone", append(args, "--apiAuth=off")...)
	line := waitLine(t, p, "gateway listening")
	if !strings.Contains(line, "http=[::]:"+httpPort) && !strings.Contains(line, "http=0.0.0.0:"+httpPort) {
		t.Errorf("the log does not say the address bound: %s", line)
	}
	p.stop(t)
	// By default every listener binds loopback, and the log says so.
	posPort := strconv.Itoa(freePort(t))
	q := start(t, "gateway listening", "--v", "--dataDir="+t.TempDir(), "--upstreamHost=127.0.0.1", "--upstreamPort=1",
		"--listenPort="+posPort, "--listenHttpPort="+strconv.Itoa(freePort(t)))
	if !strings.Contains(q.ready, "pos=127.0.0.1:"+posPort) || !strings.Contains(q.ready, "http=127.0.0.1:") {
		t.Errorf("default binds: %s", q.ready)
	}
	q.stop(t)
}

func purchaseJSON() string {
	return `{ "0": "0200", "3": "0", "4": 1000, "7": "0818160933", "11": 618160, "12": "` + time.Now().Format("060102150405") +
		`", "22": "056", "24": "200", "25": "00", "35": "4850781234567891=19082012232800000037", "41": 992468, "42": 124642124643, "49": "810" }`
}

// request makes one HTTP request, with curl when it is installed (a
// client nobody here wrote), else with Go's.
func request(t *testing.T, method, url, auth, body string) (int, string) {
	t.Helper()
	if curl, err := exec.LookPath("curl"); err == nil {
		args := []string{"-s", "-o", "-", "-w", "\n%{http_code}", "-X", method, url}
		if auth != "" {
			args = append(args, "-H", "Authorization: "+auth)
		}
		if body != "" {
			args = append(args, "-H", "Content-Type: application/json", "--data-binary", body)
		}
		out, err := exec.Command(curl, args...).Output()
		if err != nil {
			t.Fatalf("curl %v: %v", args, err)
		}
		s := strings.TrimRight(string(out), "\n")
		i := strings.LastIndexByte(s, '\n')
		code, _ := strconv.Atoi(s[i+1:])
		return code, s[:max(i, 0)]
	}
	req, _ := http.NewRequest(method, url, strings.NewReader(body))
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func grepLines(s, word string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, word) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

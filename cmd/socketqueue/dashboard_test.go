package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// TestDashboardInChromium: the admin port's live page in a real browser
// (Debian's headless chromium): it loads with no console error (its own
// script, and the Content-Security-Policy it is served with), and while
// purchases run its figures change from one second to the next. A
// screenshot is kept in a temporary directory, its path printed.
func TestDashboardInChromium(t *testing.T) {
	browser := ""
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			browser = p
			break
		}
	}
	if browser == "" {
		t.Skip("no chromium installed (Debian's chromium package; make test-deps installs it)")
	}
	bankPort, posPort, admin := strconv.Itoa(freePort(t)), strconv.Itoa(freePort(t)), strconv.Itoa(freePort(t))
	start(t, "bank link up", "--v", "--dataDir="+t.TempDir(), "--echoServerPort="+bankPort, "--upstreamHost=127.0.0.1",
		"--upstreamPort="+bankPort, "--listenPort="+posPort, "--listenFraming=header", "--adminPort="+admin)

	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(browser), chromedp.NoSandbox,
		chromedp.DisableGPU, chromedp.WindowSize(1280, 1000))
	actx, cancel := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancel()
	ctx, cancel := chromedp.NewContext(actx)
	defer cancel()
	ctx, cancel = context.WithTimeout(ctx, 90*time.Second)
	defer cancel()
	var mu sync.Mutex
	var problems []string
	if err := chromedp.Listen(ctx, func(ev any) {
		mu.Lock()
		defer mu.Unlock()
		switch ev := ev.(type) {
		case *runtime.EventConsoleAPICalled:
			if ev.Type == runtime.ConsoleAPICalledTypeError || ev.Type == runtime.ConsoleAPICalledTypeWarning {
				var args []string
				for _, a := range ev.Args {
					args = append(args, string(a.Value)+a.Description)
				}
				problems = append(problems, "console "+string(ev.Type)+": "+strings.Join(args, " "))
			}
		case *runtime.EventExceptionThrown:
			problems = append(problems, "exception: "+ev.ExceptionDetails.Text+" at line "+strconv.FormatInt(ev.ExceptionDetails.LineNumber+1, 10))
		case *log.EventEntryAdded:
			if ev.Entry.Level == log.EntryLevelError || ev.Entry.Level == log.EntryLevelWarning {
				problems = append(problems, "log "+string(ev.Entry.Level)+": "+ev.Entry.Text+" "+ev.Entry.URL)
			}
		}
	}); err != nil {
		t.Skipf("chromium (%s) does not start here: %v", browser, err)
	}
	// Starting the browser is the machine's business, not the page's: a
	// chromium that cannot start here is a skip, saying why.
	if err := chromedp.Do(ctx); err != nil {
		t.Skipf("chromium (%s) does not start here: %v", browser, err)
	}
	url := "http://127.0.0.1:" + admin + "/dashboard"
	if err := chromedp.Do(ctx, chromedp.Navigate(url), chromedp.WaitVisible("#rate-total")); err != nil {
		t.Fatalf("%s: %v", url, err)
	}
	if _, err := chromedp.Call(ctx, log.Enable, cdp.Empty{}); err != nil {
		t.Fatal(err)
	}
	text := func(id string) string {
		s, err := chromedp.Run(ctx, chromedp.Text("#"+id))
		if err != nil {
			t.Fatalf("#%s: %v", id, err)
		}
		return s
	}
	waitFor(t, "the page's first figures", func() bool { return text("updated") != "never" && strings.HasPrefix(text("version"), "version v") })

	load, stop := context.WithCancel(context.Background())
	defer stop()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for batch := 0; load.Err() == nil; batch++ {
			sendPurchases(t, "127.0.0.1:"+posPort, batch*200, 200, 4, 40, true, nil)
		}
	}()
	rates := map[string]bool{}
	waitFor(t, "client requests a second shown, changing", func() bool {
		if v := text("rate-total"); v != "0" {
			rates[v] = true
		}
		return len(rates) >= 3
	})
	waitFor(t, "0200s in the MTI table", func() bool { return strings.Contains(text("by-mti"), "0200") })
	if links := text("links"); !strings.Contains(links, "127.0.0.1:"+bankPort) || !strings.Contains(links, "ready") {
		t.Errorf("links table: %q", links)
	}
	shot, err := chromedp.Run(ctx, chromedp.FullScreenshot(100)) // 100: PNG
	if err != nil {
		t.Fatal(err)
	}
	stop()
	wg.Wait()
	dir, err := os.MkdirTemp("", "socketqueue-dashboard-")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "dashboard.png")
	if err := os.WriteFile(path, shot, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot of the dashboard under load: %s (rates seen: %d distinct)", path, len(rates))
	mu.Lock()
	defer mu.Unlock()
	if len(problems) > 0 {
		t.Errorf("the page reported problems:\n%s", strings.Join(problems, "\n"))
	}
}

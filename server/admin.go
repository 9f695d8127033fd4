package server

import (
	"strings"
	"time"

	"github.com/valyala/fasthttp"
	"github.com/valyala/fasthttp/fasthttpadaptor"
	"github.com/valyala/fasthttp/pprofhandler"
)

// adminFront serves what operators and their tools read, apart from the
// payments API: /dashboard (a live page of the figures), /metrics,
// /stats, /healthz (= /readyz: send purchases here), /livez (the
// process works: do not restart it).
type adminFront struct {
	g       *Gateway
	metrics fasthttp.RequestHandler
	httpServer
}

func newAdminFront(g *Gateway, addr string) (*adminFront, error) {
	a := &adminFront{g: g}
	if g.cfg.Metrics != nil {
		a.metrics = fasthttpadaptor.NewFastHTTPHandler(g.cfg.Metrics.Handler())
	}
	write := 30 * time.Second
	if g.cfg.AdminPprof {
		write = 70 * time.Second // a CPU profile takes 30 s by default
	}
	ln, err := g.listen(addr, "admin", false, nil, nil, nil)
	if err != nil {
		return nil, err
	}
	a.serve(ln, &fasthttp.Server{
		Handler: a.handle, Name: "socketqueue", NoDefaultServerHeader: true,
		ReadTimeout: 10 * time.Second, WriteTimeout: write, IdleTimeout: 120 * time.Second,
		MaxRequestBodySize: 4 << 10, Logger: fasthttpLogger{g},
	})
	return a, nil
}

func (a *adminFront) handle(ctx *fasthttp.RequestCtx) {
	if !ctx.IsGet() && !ctx.IsHead() {
		methodNotAllowed(ctx, "GET, HEAD")
		return
	}
	path := string(ctx.Path())
	if a.g.cfg.AdminPprof && strings.HasPrefix(path, "/debug/pprof/") {
		pprofhandler.PprofHandler(ctx)
		return
	}
	switch path {
	case "/healthz", "/readyz":
		a.g.serveReady(ctx)
	case "/livez":
		ctx.SetBodyString("alive\n")
	case "/dashboard":
		serveDashboard(ctx)
	case "/metrics":
		if a.metrics == nil {
			ctx.SetStatusCode(fasthttp.StatusNotFound)
			writeErrors(ctx, "metrics are off")
			return
		}
		a.metrics(ctx)
	case "/stats":
		if a.g.cfg.Stats == nil {
			ctx.SetStatusCode(fasthttp.StatusNotFound)
			writeErrors(ctx, "statistics are off")
			return
		}
		ctx.SetContentType("application/json")
		ctx.SetBody(a.g.appendLinks(a.g.cfg.Stats.AppendJSON(ctx.Response.Body()[:0])))
	default:
		ctx.SetStatusCode(fasthttp.StatusNotFound)
		writeErrors(ctx, "unknown path "+path+"; /dashboard, /metrics, /stats, /healthz, /readyz, /livez")
	}
}

// serveReady answers whether purchases should be sent here: 200 "up", or
// 503 with why (stopping, the bank link down, the journal unable to
// write).
func (g *Gateway) serveReady(ctx *fasthttp.RequestCtx) {
	if !ctx.IsGet() && !ctx.IsHead() {
		methodNotAllowed(ctx, "GET, HEAD")
		return
	}
	switch {
	case g.stopping.Load():
		ctx.SetStatusCode(fasthttp.StatusServiceUnavailable)
		ctx.SetBodyString("stopping\n")
	case !g.links.Ready():
		ctx.SetStatusCode(fasthttp.StatusServiceUnavailable)
		ctx.SetBodyString("no bank link ready\n")
	case g.cfg.Cluster != nil && !g.cfg.Cluster.Connected():
		ctx.SetStatusCode(fasthttp.StatusServiceUnavailable)
		ctx.SetBodyString("cluster not connected\n")
	case g.journal != nil && g.journal.Err() != nil: // the local journal or the cluster
		ctx.SetStatusCode(fasthttp.StatusServiceUnavailable)
		if g.cfg.Cluster != nil {
			ctx.SetBodyString("cluster cannot record purchases\n")
		} else {
			ctx.SetBodyString("journal failed\n")
		}
	default:
		ctx.SetBodyString("up\n")
	}
	if ctx.QueryArgs().Has("verbose") {
		ctx.SetBody(g.appendLinkLines(ctx.Response.Body()))
	}
}

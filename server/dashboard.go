package server

import (
	_ "embed"

	"github.com/valyala/fasthttp"
)

// dashboardHTML is the live page of the admin port: one file, no build
// step; its script reads /metrics every second.
//
//go:embed dashboard.html
var dashboardHTML []byte

func serveDashboard(ctx *fasthttp.RequestCtx) {
	ctx.SetContentType("text/html; charset=utf-8")
	ctx.Response.Header.Set("Cache-Control", "no-cache")
	// Nothing but itself and /metrics: no outside script, style or font.
	ctx.Response.Header.Set("Content-Security-Policy",
		"default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; img-src data:")
	ctx.SetBody(dashboardHTML)
}

package server

import (
	"encoding/hex"
	"errors"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/socketqueue/socketqueue-go/dispatch"
	"github.com/socketqueue/socketqueue-go/internal/tlsconf"
	"github.com/socketqueue/socketqueue-go/isocodec"
)

// MaxHTTPBody bounds a request body: a message is at most a few KiB, its
// JSON or hex a few times that.
const MaxHTTPBody = 64 << 10

// readHTTPBody is what fasthttp reads of a body before giving up. It is
// past MaxHTTPBody so that a body somewhat over the limit is read whole
// and answered 413 by the handler: refused while its client still
// writes, the connection is closed with data unread and the client gets
// a reset instead of the answer.
const readHTTPBody = 4 * MaxHTTPBody

// httpFront is the JSON and hex API.
type httpFront struct {
	g   *Gateway
	tls *tlsconf.Server // nil: plaintext
	httpServer
}

// httpServer is one fasthttp server on its listener.
type httpServer struct {
	srv  *fasthttp.Server
	ln   net.Listener
	done chan error
}

// serve serves srv on ln (see Gateway.listen) until shutdown.
func (s *httpServer) serve(ln net.Listener, srv *fasthttp.Server) {
	s.srv, s.ln, s.done = srv, ln, make(chan error, 1)
	go func() { s.done <- srv.Serve(ln) }()
}

func (s *httpServer) closeListener() { _ = s.ln.Close() }

func (s *httpServer) shutdown() error {
	err := s.srv.Shutdown()
	// Shutdown closes only the listeners Serve has taken up; right after
	// serve (a start that failed on the next port) Serve may not have
	// yet, and would then accept for ever.
	s.closeListener()
	<-s.done
	if errors.Is(err, net.ErrClosed) {
		return nil // closeListener got there first
	}
	return err
}

func newHTTPFront(g *Gateway, addr string) (*httpFront, error) {
	h := &httpFront{g: g}
	if f := g.cfg.HTTPTLS; f != nil {
		var err error
		if h.tls, err = tlsconf.NewServer(*f); err != nil {
			return nil, err
		}
	}
	ln, err := g.listen(addr, "HTTP API", false, newConnLimits(g.cfg.MaxConns, g.cfg.MaxConnsPerAddr), h.tls, nil)
	if err != nil {
		return nil, err
	}
	h.serve(ln, &fasthttp.Server{
		Handler:               h.handle,
		Name:                  "socketqueue",
		NoDefaultServerHeader: true,
		ReadTimeout:           30 * time.Second,
		WriteTimeout:          30 * time.Second,
		IdleTimeout:           120 * time.Second,
		MaxRequestBodySize:    readHTTPBody,
		Logger:                fasthttpLogger{g},
		ErrorHandler:          h.requestError,
	})
	return h, nil
}

// requestError answers a request fasthttp could not read, in the API's
// own shape: a body over MaxHTTPBody is 413 (its default says 400).
func (h *httpFront) requestError(ctx *fasthttp.RequestCtx, err error) {
	h.g.cfg.Metrics.Refused(refusedMalformed)
	var small *fasthttp.ErrSmallBuffer
	var ne *net.OpError
	switch {
	case errors.Is(err, fasthttp.ErrBodyTooLarge):
		ctx.SetStatusCode(fasthttp.StatusRequestEntityTooLarge)
		writeErrors(ctx, tooLarge)
	case errors.As(err, &small):
		ctx.SetStatusCode(fasthttp.StatusRequestHeaderFieldsTooLarge)
		writeErrors(ctx, "request headers too large")
	case errors.As(err, &ne) && ne.Timeout():
		ctx.SetStatusCode(fasthttp.StatusRequestTimeout)
		writeErrors(ctx, "request not received in time")
	default:
		ctx.SetStatusCode(fasthttp.StatusBadRequest)
		writeErrors(ctx, "request does not parse as HTTP: "+err.Error())
	}
}

var tooLarge = "request body over " + strconv.Itoa(MaxHTTPBody>>10) + " KiB"

type fasthttpLogger struct{ g *Gateway }

func (l fasthttpLogger) Printf(format string, args ...any) {
	l.g.log.Warn().Msgf("http: "+format, args...)
}

// Status codes (README, HTTP API).
const (
	statusInvalid = fasthttp.StatusUnprocessableEntity // a message that fails validation
)

func (h *httpFront) handle(ctx *fasthttp.RequestCtx) {
	path := string(ctx.Path())
	switch path {
	case "/healthz":
		h.g.serveReady(ctx) // balancers ask the payments port
		return
	case "/metrics", "/stats":
		ctx.SetStatusCode(fasthttp.StatusNotFound)
		writeErrors(ctx, path+" is served on the admin port (--adminPort), not with the payments")
		return
	case "/", "/raw":
	default:
		ctx.SetStatusCode(fasthttp.StatusNotFound)
		writeErrors(ctx, "unknown path "+path+"; POST / (JSON) or /raw (hex)")
		return
	}
	if !ctx.IsPost() {
		methodNotAllowed(ctx, "POST")
		return
	}
	raw := path == "/raw"
	client := ""
	if ctx.IsTLS() {
		client = tlsconf.PeerIdentity(ctx.TLSConnectionState()) // "" without mutual TLS
		if client != "" && ctx.ConnRequestNum() == 1 {
			h.g.log.Info().Str("peer", ctx.RemoteAddr().String()).Str("cert", client).Msg("HTTP client connected with a certificate")
		}
	}
	if tokens := h.g.cfg.APITokens; tokens != nil {
		name, ok := authorize(tokens, ctx.Request.Header.Peek("Authorization"))
		if !ok {
			h.g.cfg.Metrics.Refused(refusedAuth)
			h.g.log.Warn().Str("peer", ctx.RemoteAddr().String()).Msg("HTTP request without a valid credential; refused")
			ctx.Response.Header.Set("WWW-Authenticate", `Bearer realm="socketqueue"`)
			ctx.SetStatusCode(fasthttp.StatusUnauthorized)
			h.writeFailure(ctx, raw, "no valid credential: send Authorization: Bearer TOKEN")
			return
		}
		if client != "" {
			name += " (" + client + ")" // the token and the certificate
		}
		client = name
	}
	if len(ctx.PostBody()) > MaxHTTPBody {
		h.g.cfg.Metrics.Refused(refusedMalformed)
		ctx.SetStatusCode(fasthttp.StatusRequestEntityTooLarge)
		h.writeFailure(ctx, raw, tooLarge)
		return
	}
	msg, status, errs := h.parse(ctx.PostBody(), raw)
	if status != 0 {
		counted := refusedInvalid
		if status == fasthttp.StatusBadRequest {
			counted = refusedMalformed // not JSON, not hex: not a message at all
		}
		h.refuse(ctx, raw, client, status, counted, errs)
		return
	}
	reply, err := h.exchange(msg, client)
	if err != nil {
		status, refused := outcomeOf(err)
		if inv := (errInvalid{}); errors.As(err, &inv) {
			h.refuse(ctx, raw, client, status, refused, inv.list())
			return
		}
		if refused != "" {
			h.g.cfg.Metrics.Refused(refused)
		}
		if e := h.g.log.Info(); e.Enabled() {
			e.Str("client", client).Int("status", status).Err(err).Msg("HTTP request failed")
		}
		ctx.SetStatusCode(status)
		h.writeFailure(ctx, raw, err.Error())
		return
	}
	if raw {
		ctx.SetContentType("text/plain; charset=utf-8")
		ctx.SetBody(hex.AppendEncode(nil, reply))
		return
	}
	var s isocodec.Scan
	if err := h.g.cfg.Dialect.Layout.Scan(reply, &s); err != nil {
		ctx.SetStatusCode(fasthttp.StatusBadGateway)
		h.writeFailure(ctx, raw, "bank reply does not parse: "+err.Error())
		return
	}
	ctx.SetContentType("application/json")
	out := append(ctx.Response.Body()[:0], `{"result":`...)
	var numbers isocodec.FieldSet
	if !h.g.cfg.JSONWire {
		numbers = h.g.cfg.Dialect.JSONNumbers()
	}
	out = h.g.cfg.Dialect.Layout.AppendMessageJSON(out, reply, &s, numbers) // as AppendJSON(Unpack), without moov-io
	out = append(out, `,"errors":[]}`...)
	ctx.SetBody(out)
}

// refuse answers a request that never reached the bank: each error an
// entry, counted as counted, logged at --v with its reasons (which name
// fields and lengths, never values).
func (h *httpFront) refuse(ctx *fasthttp.RequestCtx, raw bool, client string, status int, counted string, errs []string) {
	h.g.cfg.Metrics.Refused(counted)
	if e := h.g.log.Info(); e.Enabled() {
		e.Str("client", client).Str("peer", ctx.RemoteAddr().String()).Int("status", status).Strs("errors", errs).Msg("HTTP request refused")
	}
	ctx.SetStatusCode(status)
	h.writeFailure(ctx, raw, errs...)
}

// parse turns a body into a bare message (copied: the body belongs to
// fasthttp), or a status and the errors. A JSON request's errors are
// all reported at once: its bad values, those its packing finds, and
// what the checks find in the rest (a missing field, field 12's time),
// one entry per field.
func (h *httpFront) parse(body []byte, raw bool) ([]byte, int, []string) {
	d := h.g.cfg.Dialect
	if raw {
		msg, err := hex.DecodeString(string(trimSpace(body)))
		if err != nil || len(msg) == 0 {
			return nil, fasthttp.StatusBadRequest, []string{"body is not a hex-encoded message"}
		}
		return msg, 0, nil
	}
	fields, err := isocodec.FieldsFromJSON(body)
	var bad isocodec.FieldErrors
	if err != nil && !errors.As(err, &bad) {
		return nil, fasthttp.StatusBadRequest, []string{err.Error()}
	}
	for range 3 { // each pass leaves out the fields the last one refused
		msg, err := d.Pack(fields)
		if err == nil {
			if len(bad) == 0 {
				return msg, 0, nil
			}
			var s isocodec.Scan
			if inv := (errInvalid{}); errors.As(h.validate(msg, &s, h.g.now()), &inv) {
				bad = mergeFieldErrors(bad, inv.fields)
				return nil, statusInvalid, append(inv.other, bad.Strings()...)
			}
			return nil, statusInvalid, bad.Strings()
		}
		var fe isocodec.FieldErrors
		if !errors.As(err, &fe) {
			return nil, statusInvalid, append(bad.Strings(), err.Error())
		}
		bad = mergeFieldErrors(bad, fe)
		for _, e := range fe {
			delete(fields, e.Field)
		}
	}
	return nil, statusInvalid, bad.Strings()
}

// mergeFieldErrors adds to errs those of more for fields errs does not
// name (a field left out for a bad value is not also "missing"), in
// field order.
func mergeFieldErrors(errs, more isocodec.FieldErrors) isocodec.FieldErrors {
	for _, e := range more {
		if !slices.ContainsFunc(errs, func(x isocodec.FieldError) bool { return x.Field == e.Field }) {
			errs = append(errs, e)
		}
	}
	slices.SortStableFunc(errs, func(a, b isocodec.FieldError) int { return a.Field - b.Field })
	return errs
}

func trimSpace(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\n' || b[0] == '\r' || b[0] == '\t') {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\n' || b[len(b)-1] == '\r' || b[len(b)-1] == '\t') {
		b = b[:len(b)-1]
	}
	return b
}

// errInvalid carries validation errors through exchange: those of
// fields, and the others (the message as a whole).
type errInvalid struct {
	fields isocodec.FieldErrors
	other  []string
}

// list is each error, one entry apiece.
func (e errInvalid) list() []string {
	return append(slices.Clip(e.other), mergeFieldErrors(nil, e.fields).Strings()...)
}

func (e errInvalid) Error() string { return "invalid message: " + strings.Join(e.list(), "; ") }

// exchange validates msg, queues it and waits for the reply (a copy).
func (h *httpFront) exchange(msg []byte, client string) ([]byte, error) {
	g := h.g
	var s isocodec.Scan
	now := g.now()
	if err := h.validate(msg, &s, now); err != nil {
		return nil, err
	}
	if e := g.log.Debug(); e.Enabled() {
		g.dump(e.Str("client", client), "from HTTP", msg)
	}
	w := &httpWaiter{ch: make(chan httpResult, 1)}
	if err := g.admit(admission{msg: msg, scan: &s, client: w, now: now, wait: g.cfg.QueueTimeout}); err != nil {
		return nil, err
	}
	// The table times the request out; this timer only guards against a
	// bug there, so it is longer.
	t := time.NewTimer(g.cfg.QueueTimeout + 2*time.Second)
	defer t.Stop()
	select {
	case res := <-w.ch:
		return res.reply, res.err
	case <-t.C:
		w.gone.Store(true)
		return nil, ErrTimeout
	}
}

// validate scans msg into s and checks it as a request the bank may get
// (an errInvalid when not).
func (h *httpFront) validate(msg []byte, s *isocodec.Scan, now time.Time) error {
	g := h.g
	d := g.cfg.Dialect
	if err := d.Layout.Scan(msg, s); err != nil {
		return errInvalid{other: []string{err.Error()}}
	}
	if s.Len != len(msg) {
		return errInvalid{other: []string{"bytes after the end of the message"}}
	}
	if errs := d.Check(msg, s, isocodec.CheckOptions{Now: now, Window: g.cfg.ExpiryWindow, Location: g.cfg.Location}, nil); len(errs) > 0 {
		return errInvalid{fields: errs}
	}
	if s.MTI.IsResponse() {
		return errInvalid{other: []string{"MTI " + s.MTI.String() + " is a response, not a request"}}
	}
	return nil
}

// outcomeOf maps an error from the exchange to its HTTP status and, when
// the request never reached the bank, the refusal it counts as ("" for an
// error after it did, or from the journal, which counts its own).
func outcomeOf(err error) (status int, refused string) {
	var inv errInvalid
	switch {
	case errors.As(err, &inv):
		return statusInvalid, refusedInvalid
	case errors.Is(err, ErrTimeout):
		return fasthttp.StatusGatewayTimeout, ""
	case errors.Is(err, ErrLinkDropped):
		return fasthttp.StatusBadGateway, ""
	case errors.Is(err, ErrStopping):
		return fasthttp.StatusServiceUnavailable, refusedStopping
	case errors.Is(err, ErrLinkDown):
		return fasthttp.StatusServiceUnavailable, refusedLinkDown
	case errors.Is(err, ErrFull):
		return fasthttp.StatusServiceUnavailable, refusedFull
	}
	return fasthttp.StatusServiceUnavailable, "" // the journal refused
}

func methodNotAllowed(ctx *fasthttp.RequestCtx, allow string) {
	ctx.Response.Header.Set("Allow", allow)
	ctx.SetStatusCode(fasthttp.StatusMethodNotAllowed)
	writeErrors(ctx, "method "+string(ctx.Method())+" not allowed; use "+allow)
}

func (h *httpFront) writeFailure(ctx *fasthttp.RequestCtx, raw bool, errs ...string) {
	if raw {
		ctx.SetContentType("text/plain; charset=utf-8")
		out := ctx.Response.Body()[:0]
		for _, e := range errs {
			out = append(out, e...)
			out = append(out, '\n')
		}
		ctx.SetBody(out)
		return
	}
	writeErrors(ctx, errs...)
}

// writeErrors writes {"result": {}, "errors": [...]}.
func writeErrors(ctx *fasthttp.RequestCtx, errs ...string) {
	ctx.SetContentType("application/json")
	out := append(ctx.Response.Body()[:0], `{"result":{},"errors":[`...)
	for i, e := range errs {
		if i > 0 {
			out = append(out, ',')
		}
		out = isocodec.AppendJSONString(out, e)
	}
	out = append(out, "]}"...)
	ctx.SetBody(out)
}

// httpWaiter is an HTTP request waiting for its reply.
type httpWaiter struct {
	ch   chan httpResult
	gone atomic.Bool
}

type httpResult struct {
	reply []byte
	err   error
}

var _ dispatch.Client = (*httpWaiter)(nil)

// Gone reports that the handler stopped waiting.
func (w *httpWaiter) Gone() bool { return w.gone.Load() }

// Deliver and Fail hand the outcome to the waiting handler.
func (w *httpWaiter) Deliver(_ *dispatch.Request, reply []byte, _ *isocodec.Scan) {
	w.finish(reply, nil)
}

func (w *httpWaiter) Fail(_ *dispatch.Request, err error) { w.finish(nil, err) }

// finish hands over the reply (copied; msg is borrowed) or the error.
// The channel holds one result, so this never blocks a loop.
func (w *httpWaiter) finish(msg []byte, err error) {
	res := httpResult{err: err}
	if msg != nil {
		res.reply = append([]byte(nil), msg...)
	}
	select {
	case w.ch <- res:
	default:
	}
}

package cluster

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	json "github.com/goccy/go-json"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Buckets of the cluster's state.
const (
	terminalsBucket = "socketqueue-terminals"
	leasesBucket    = "socketqueue-instances"
)

// ErrHeld: the terminal's record is held (its request is at the bank
// through some instance).
var ErrHeld = errors.New("cluster: terminal held")

// ErrConflicts: writes of the record kept being refused as stale while
// reading it found it free: others writing it at once, or a cluster
// whose reads and writes disagree (a node that lost its quorum and has
// not yet seen it). Its holder is not known.
var ErrConflicts = errors.New("cluster: the record's writes kept conflicting")

// ErrFenced: the record changed since the revision given: another
// instance took it over, or it was settled.
var ErrFenced = errors.New("cluster: record changed meanwhile")

// ErrRefused: the cluster refused this gateway's credentials or
// certificate, or showed one this gateway does not trust. Trying again
// will not help.
var ErrRefused = errors.New("cluster: refused")

// refused reports whether a connection failed on its credentials rather
// than on the network.
func refused(err error) bool {
	// nats.ErrTLS wraps a certificate this gateway does not trust, and in
	// TLS 1.3 the connection the server closes after refusing ours; in
	// TLS 1.2 its refusal is the peer's alert, which crypto/tls reports
	// as a "remote error".
	var op *net.OpError
	return errors.Is(err, nats.ErrAuthorization) || errors.Is(err, nats.ErrTLS) || (errors.As(err, &op) && op.Op == "remote error")
}

// Record is a terminal's entry while one of its requests may be at the
// bank: which instance sent it and the message, and whether it is being
// reversed.
type Record struct {
	Instance string `json:"i"`
	// Msg is the request as written to the bank.
	Msg []byte `json:"m"`
	// Reversing: its answer did not reach the client; the reversal is
	// due (State of the reversal schedule in Try).
	Reversing bool `json:"r,omitempty"`
	Try       int  `json:"t,omitempty"`
	// Lock: the terminal is held for a request that is never reversed
	// (not a purchase): only its turn at the bank, nothing to undo.
	Lock bool `json:"l,omitempty"`
}

// Held is a record with the revision that holds it.
type Held struct {
	TID string
	Rev uint64
	// From is the instance it was taken over from (TakeOver).
	From string
	// Written is when the record was written (the stream leader's
	// clock), about when its request went to the bank.
	Written time.Time
	Record
}

// StoreConfig opens a Store.
type StoreConfig struct {
	// URLs of the cluster's nodes.
	URLs []string
	// Instance is this gateway's name, unique among those sharing the
	// cluster.
	Instance string
	// Replicas of each bucket (1 to 5; 3 for three nodes).
	Replicas int
	// Lease is how long an instance may go unheard before the others
	// take over what it holds.
	Lease time.Duration
	// TLS, when set: the nodes are reached over mutual TLS.
	TLS TLSFiles
	// BankWait is how long a request may be at the bank (the queue
	// timeout). A lapsed instance's record of a request that is not
	// reversed (Lock) is released only once it is that old: the request,
	// sent before the instance died, may be at the bank until then, and
	// the terminal's next request must not overlap it.
	BankWait time.Duration
}

// Store is the cluster's shared state as one instance sees it.
type Store struct {
	cfg         StoreConfig
	nc          *nats.Conn
	js          jetstream.JetStream
	terms       jetstream.KeyValue
	stream      jetstream.Stream // the terminals bucket's
	leases      jetstream.KeyValue
	leaseStream jetstream.Stream
	// known is, per terminal, the revision this instance last saw free
	// (its delete marker): a new record is written expecting it, so a
	// purchase costs one write to hold and one to release.
	mu    sync.Mutex
	known map[string]uint64

	// The takeover scan reads every record: it runs when an instance
	// seen alive is no longer, until one completes, and every
	// scanEvery renewals (for what a write reported failed left).
	seen    map[string]bool
	scanDue bool
	beats   int
}

// scanEvery: renewals between two scans when no lease has lapsed.
const scanEvery = 30

// Open connects to the cluster and makes the buckets where they are not.
func Open(ctx context.Context, cfg StoreConfig) (*Store, error) {
	if cfg.Instance == "" || strings.ContainsAny(cfg.Instance, ".*> ") {
		return nil, fmt.Errorf("cluster: instance name %q: want a plain name", cfg.Instance)
	}
	if cfg.Replicas <= 0 {
		cfg.Replicas = 1
	}
	if cfg.Lease <= 0 {
		cfg.Lease = 10 * time.Second
	}
	tlsOpts, err := cfg.TLS.clientOpts()
	if err != nil {
		return nil, err
	}
	nc, err := nats.Connect(strings.Join(cfg.URLs, ","), append(tlsOpts, nats.Name("socketqueue "+cfg.Instance),
		nats.MaxReconnects(-1), nats.ReconnectWait(250*time.Millisecond))...)
	if err != nil {
		if refused(err) {
			return nil, fmt.Errorf("%w: %w", ErrRefused, err)
		}
		return nil, fmt.Errorf("cluster: connect: %w", err)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("cluster: %w", err)
	}
	s := &Store{cfg: cfg, nc: nc, js: js, known: map[string]uint64{}, seen: map[string]bool{}}
	if s.terms, err = bucket(ctx, js, terminalsBucket, cfg.Replicas, 0); err != nil {
		nc.Close()
		return nil, err
	}
	if s.stream, err = js.Stream(ctx, "KV_"+terminalsBucket); err != nil {
		nc.Close()
		return nil, fmt.Errorf("cluster: bucket %s: %w", terminalsBucket, err)
	}
	if s.leases, err = bucket(ctx, js, leasesBucket, cfg.Replicas, time.Minute); err != nil {
		nc.Close()
		return nil, err
	}
	if s.leaseStream, err = js.Stream(ctx, "KV_"+leasesBucket); err != nil {
		nc.Close()
		return nil, fmt.Errorf("cluster: bucket %s: %w", leasesBucket, err)
	}
	s.scanDue = true
	return s, nil
}

// bucket creates (or brings to this configuration) a key-value bucket's
// stream and binds to it. It is a key-value bucket's stream as the client
// library makes one, but with direct gets off: a direct get goes to any
// replica's queue subscriber, and one paused (SIGSTOP, a stalled VM)
// keeps its subscription until its routes time out, minutes later, so
// reads sent its way are lost while the others have long elected a new
// leader. Reads go to the stream's leader instead, which is also the
// latest state. markerTTL, when set, allows per-message TTLs (leases).
func bucket(ctx context.Context, js jetstream.JetStream, name string, replicas int, markerTTL time.Duration) (jetstream.KeyValue, error) {
	_, err := js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name: "KV_" + name, Subjects: []string{"$KV." + name + ".>"},
		MaxMsgsPerSubject: 1, MaxBytes: -1, MaxMsgSize: -1, MaxMsgs: -1, MaxConsumers: -1,
		Storage: jetstream.FileStorage, Replicas: replicas, Discard: jetstream.DiscardNew,
		AllowRollup: true, DenyDelete: true, Duplicates: 2 * time.Minute,
		AllowDirect:            false,
		AllowMsgTTL:            markerTTL > 0,
		SubjectDeleteMarkerTTL: markerTTL,
	})
	if err != nil {
		return nil, fmt.Errorf("cluster: bucket %s: %w", name, err)
	}
	kv, err := js.KeyValue(ctx, name)
	if err != nil {
		return nil, fmt.Errorf("cluster: bucket %s: %w", name, err)
	}
	return kv, nil
}

// Close disconnects.
func (s *Store) Close() { s.nc.Close() }

// Writable reports whether the terminals' bucket has a leader, and so a
// quorum behind it: its state is read from the leader.
func (s *Store) Writable(ctx context.Context) error {
	if _, err := s.stream.Info(ctx); err != nil {
		return fmt.Errorf("cluster: bucket %s: %w", terminalsBucket, err)
	}
	return nil
}

// KeyOf is a terminal id as a record's key: as it is when it is letters
// and digits, else hex.
func KeyOf(tid []byte) string {
	for _, c := range tid {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
			return "x" + hex.EncodeToString(tid)
		}
	}
	if len(tid) == 0 {
		return "none"
	}
	return string(tid)
}

func termSubject(tid string) string { return "$KV." + terminalsBucket + "." + tid }

// opTimeout bounds each write's wait for its acknowledgement: an ack
// lost while the cluster elects a leader must not hold a purchase for
// its whole wait; the write is tried again (and found, if it was made).
const opTimeout = 2 * time.Second

// Hold writes tid's record, which is its lock: only where none is. It
// returns the record's revision, or ErrHeld with the holder's record.
// It keeps trying through lost acknowledgements until ctx ends.
func (s *Store) Hold(ctx context.Context, tid string, rec Record) (uint64, *Held, error) {
	data, err := json.Marshal(rec)
	if err != nil {
		return 0, nil, fmt.Errorf("cluster: record: %w", err)
	}
	s.mu.Lock()
	expect := s.known[tid]
	s.mu.Unlock()
	conflicts := 0
	for {
		op, cancel := context.WithTimeout(ctx, opTimeout)
		ack, err := s.js.PublishMsg(op, &nats.Msg{Subject: termSubject(tid), Data: data},
			jetstream.WithExpectLastSequencePerSubject(expect))
		cancel()
		if err == nil {
			return ack.Sequence, nil, nil
		}
		if ctx.Err() != nil {
			return 0, nil, fmt.Errorf("cluster: hold %s: %w", tid, err)
		}
		if isWrongLastSeq(err) {
			if conflicts++; conflicts > 3 {
				return 0, nil, fmt.Errorf("cluster: hold %s: %w", tid, ErrConflicts)
			}
		}
		// Our view is stale, or the acknowledgement was lost: read what
		// is there (our own record, if the write was made after all).
		op, cancel = context.WithTimeout(ctx, opTimeout)
		free, rev, held, rerr := s.last(op, tid)
		cancel()
		switch {
		case rerr != nil:
			if ctx.Err() != nil {
				return 0, nil, rerr
			}
			continue // the cluster is electing; try again
		case free:
			expect = rev
		case held.Instance == rec.Instance && bytes.Equal(held.Msg, rec.Msg) && !held.Reversing:
			return held.Rev, nil, nil
		default:
			return 0, held, ErrHeld
		}
	}
}

// last reads tid's latest entry, from the stream's leader: free (none,
// or a delete marker) at rev, or held. What it says free is only the
// revision a write then expects (a write fails if another came between);
// what it says held is waited on.
func (s *Store) last(ctx context.Context, tid string) (free bool, rev uint64, held *Held, err error) {
	m, err := s.stream.GetLastMsgForSubject(ctx, termSubject(tid))
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return true, 0, nil, nil
	}
	if err != nil {
		return false, 0, nil, fmt.Errorf("cluster: read %s: %w", tid, err)
	}
	if op := m.Header.Get("KV-Operation"); op == "DEL" || op == "PURGE" {
		return true, m.Sequence, nil, nil
	}
	h := &Held{TID: tid, Rev: m.Sequence, Written: m.Time}
	if err := json.Unmarshal(m.Data, &h.Record); err != nil {
		return false, 0, nil, fmt.Errorf("cluster: record of %s: %w", tid, err)
	}
	return false, 0, h, nil
}

// Release deletes tid's record at rev (settled); ErrFenced when it has
// changed since. It keeps trying through lost acknowledgements until ctx
// ends.
func (s *Store) Release(ctx context.Context, tid string, rev uint64) error {
	var ack *jetstream.PubAck
	for {
		m := nats.NewMsg(termSubject(tid))
		m.Header.Set("KV-Operation", "DEL")
		op, cancel := context.WithTimeout(ctx, opTimeout)
		var err error
		ack, err = s.js.PublishMsg(op, m, jetstream.WithExpectLastSequencePerSubject(rev))
		cancel()
		if err == nil {
			break
		}
		if ctx.Err() != nil {
			return fmt.Errorf("cluster: release %s: %w", tid, err)
		}
		if !isWrongLastSeq(err) {
			continue // the acknowledgement was lost, or the cluster is electing
		}
		// Changed since rev: by our own earlier try, or by another.
		op, cancel = context.WithTimeout(ctx, opTimeout)
		free, last, _, rerr := s.last(op, tid)
		cancel()
		if rerr == nil && free && last > rev {
			s.mu.Lock()
			s.known[tid] = last
			s.mu.Unlock()
			return nil // our delete was made; only its ack was lost
		}
		return ErrFenced
	}
	s.mu.Lock()
	s.known[tid] = ack.Sequence
	s.mu.Unlock()
	return nil
}

// Update replaces tid's record at rev; ErrFenced when it has changed
// since. It keeps trying through lost acknowledgements until ctx ends: a
// takeover whose acknowledgement was lost would otherwise leave the
// record in this instance's name, reversing, with no one reversing it.
func (s *Store) Update(ctx context.Context, tid string, rev uint64, rec Record) (uint64, error) {
	data, err := json.Marshal(rec)
	if err != nil {
		return 0, fmt.Errorf("cluster: record: %w", err)
	}
	for {
		op, cancel := context.WithTimeout(ctx, opTimeout)
		ack, err := s.js.PublishMsg(op, &nats.Msg{Subject: termSubject(tid), Data: data},
			jetstream.WithExpectLastSequencePerSubject(rev))
		cancel()
		if err == nil {
			return ack.Sequence, nil
		}
		if ctx.Err() != nil {
			return 0, fmt.Errorf("cluster: update %s: %w", tid, err)
		}
		if !isWrongLastSeq(err) {
			continue // the acknowledgement was lost, or the cluster is electing
		}
		// Changed since rev: by our own earlier try, or by another.
		op, cancel = context.WithTimeout(ctx, opTimeout)
		m, rerr := s.stream.GetLastMsgForSubject(op, termSubject(tid))
		cancel()
		if rerr == nil && m.Sequence > rev && m.Header.Get("KV-Operation") == "" && bytes.Equal(m.Data, data) {
			return m.Sequence, nil // our write was made; only its ack was lost
		}
		return 0, ErrFenced
	}
}

// WaitFree blocks until tid's record is gone (or ctx ends). A watch
// brings the delete at once; the record is also read again every
// quarter second, because a watch made while the cluster elects a leader
// may never deliver, and making one waits for the meta leader: it is
// made aside, never in the way of the reads.
func (s *Store) WaitFree(ctx context.Context, tid string) error {
	watched := make(chan jetstream.KeyWatcher, 1)
	go func() {
		w, err := s.terms.Watch(ctx, tid)
		if err != nil {
			close(watched)
			return
		}
		watched <- w
	}()
	var updates <-chan jetstream.KeyValueEntry
	defer func(made <-chan jetstream.KeyWatcher) {
		if watched != nil { // still being made: stopped once it is
			go func() {
				if w, ok := <-made; ok {
					w.Stop()
				}
			}()
		}
	}(watched)
	poll := time.NewTicker(250 * time.Millisecond)
	defer poll.Stop()
	for {
		select {
		case w, ok := <-watched:
			if ok {
				defer w.Stop()
				updates = w.Updates()
			}
			watched = nil
		case e, ok := <-updates:
			if !ok {
				updates = nil
				continue
			}
			if e != nil && e.Operation() != jetstream.KeyValuePut {
				s.mu.Lock()
				s.known[tid] = e.Revision()
				s.mu.Unlock()
				return nil
			}
		case <-poll.C:
			op, cancel := context.WithTimeout(ctx, opTimeout)
			free, rev, _, err := s.last(op, tid)
			cancel()
			if err == nil && free {
				s.mu.Lock()
				s.known[tid] = rev
				s.mu.Unlock()
				return nil
			}
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// Heartbeat renews this instance's lease; the others take over what it
// holds once it is not renewed within the lease.
func (s *Store) Heartbeat(ctx context.Context) error {
	m := &nats.Msg{Subject: "$KV." + leasesBucket + "." + s.cfg.Instance, Data: []byte(strconv.FormatInt(time.Now().UnixNano(), 10))}
	if _, err := s.js.PublishMsg(ctx, m, jetstream.WithMsgTTL(s.cfg.Lease)); err != nil {
		return fmt.Errorf("cluster: lease: %w", err)
	}
	return nil
}

// Alive lists the instances whose lease is current: the lease stream's
// subjects (one request) and each one's last message, a lease or the
// marker its expiry left. Listing the bucket's keys would make a
// consumer, through the cluster's meta leader, at every renewal.
func (s *Store) Alive(ctx context.Context) (map[string]bool, error) {
	prefix := "$KV." + leasesBucket + "."
	info, err := s.leaseStream.Info(ctx, jetstream.WithSubjectFilter(prefix+">"))
	if err != nil {
		return nil, fmt.Errorf("cluster: leases: %w", err)
	}
	alive := map[string]bool{}
	for subj := range info.State.Subjects {
		m, err := s.leaseStream.GetLastMsgForSubject(ctx, subj)
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("cluster: leases: %w", err)
		}
		if m.Header.Get("KV-Operation") != "" || m.Header.Get("Nats-Marker-Reason") != "" {
			continue // expired
		}
		alive[strings.TrimPrefix(subj, prefix)] = true
	}
	return alive, nil
}

// TakeOver claims every record held by an instance whose lease has
// lapsed, marking it reversing and ours, each at the revision read, so
// that of two survivors one wins and a paused owner that wakes finds it
// fenced. It returns the records taken (their purchases are to be
// reversed) and those it read in this instance's name, for the caller
// to tell its own from those whose writes it was told failed. A lapsed
// instance's Lock record has nothing to reverse: once it is BankWait old
// it is released at the revision read, and returned in taken with Rev 0.
//
// It reads every record only when a scan is due (see Store.seen); else
// it returns nothing. It is called from one goroutine.
func (s *Store) TakeOver(ctx context.Context) (taken, mine []Held, err error) {
	alive, err := s.Alive(ctx)
	if err != nil {
		return nil, nil, err
	}
	for name := range s.seen {
		if !alive[name] {
			s.scanDue = true // a lease lapsed
		}
	}
	s.seen = alive
	if s.beats++; s.beats%scanEvery == 0 {
		s.scanDue = true
	}
	if !s.scanDue {
		return nil, nil, nil
	}
	complete := true
	defer func() {
		if err == nil && complete {
			s.scanDue = false
		}
	}()
	keys, err := s.terms.ListKeys(ctx)
	if err != nil {
		if errors.Is(err, jetstream.ErrNoKeysFound) {
			return nil, nil, nil
		}
		return nil, nil, fmt.Errorf("cluster: records: %w", err)
	}
	for tid := range keys.Keys() {
		free, _, h, err := s.last(ctx, tid)
		if err != nil {
			complete = false // read again at the next renewal
			continue
		}
		if free {
			continue
		}
		if h.Instance == s.cfg.Instance {
			mine = append(mine, *h)
			continue
		}
		if alive[h.Instance] {
			continue
		}
		if h.Lock {
			if time.Since(h.Written) < s.cfg.BankWait {
				complete = false // its request may be at the bank still: again at the next renewal
				continue
			}
			err := s.Release(ctx, tid, h.Rev)
			if errors.Is(err, ErrFenced) {
				continue
			}
			if err != nil {
				complete = false
				continue
			}
			taken = append(taken, Held{TID: tid, From: h.Instance, Record: h.Record})
			continue
		}
		rec := h.Record
		rec.Instance, rec.Reversing = s.cfg.Instance, true
		rev, err := s.Update(ctx, tid, h.Rev, rec)
		if errors.Is(err, ErrFenced) {
			continue // another survivor took it, or it changed
		}
		if err != nil {
			complete = false
			continue
		}
		taken = append(taken, Held{TID: tid, Rev: rev, From: h.Instance, Record: rec})
	}
	if ctx.Err() != nil {
		// The lister closes its keys when ctx ends, with no error: the
		// list stopped there, not at the bucket's end.
		complete = false
	}
	return taken, mine, nil
}

// Mine lists the records this instance holds (after a restart: what it
// left at the bank).
func (s *Store) Mine(ctx context.Context) ([]Held, error) {
	keys, err := s.terms.ListKeys(ctx)
	if errors.Is(err, jetstream.ErrNoKeysFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("cluster: records: %w", err)
	}
	var out []Held
	for tid := range keys.Keys() {
		free, _, h, err := s.last(ctx, tid)
		if err != nil {
			return nil, err
		}
		if !free && h.Instance == s.cfg.Instance {
			out = append(out, *h)
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("cluster: records: the list cut short: %w", err) // see TakeOver
	}
	return out, nil
}

func isWrongLastSeq(err error) bool {
	var apiErr *jetstream.APIError
	if !errors.As(err, &apiErr) {
		return false
	}
	return apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence ||
		apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequenceConstant
}

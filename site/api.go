package site

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"time"

	"atoll/crdt"
)

// State is what GET /v1/state returns: the site's view of itself and its peers.
type State struct {
	Name         string   `json:"name"`
	Key          string   `json:"key"`
	Region       string   `json:"region"`
	Jurisdiction string   `json:"jurisdiction"`
	Digest       string   `json:"digest"`
	Heads        []string `json:"heads"`
	Changes      int      `json:"changes"`
	Stable       int      `json:"stable"`    // changes every site acknowledged (crdt/stable.go)
	Skeletons    int      `json:"skeletons"` // stable changes held as skeletons (crdt/compact.go)
	Pending      int      `json:"pending"`
	Lacking      int      `json:"lacking"`
	Missing      []string `json:"missing,omitempty"` // dependencies pending changes wait for (up to 8)
	// SoftDigest hashes the soft records held (crdt.Replica.SoftDigest); Soft counts
	// them, SoftOrphans those waiting for their workload or cluster.
	SoftDigest  string   `json:"softDigest"`
	Soft        int      `json:"soft"`
	SoftOrphans int      `json:"softOrphans,omitempty"`
	Live        []string `json:"live"`
	// Removed: an amendment removed this site from the charter; it deletes Atoll's
	// objects from its member clusters and writes nothing.
	Removed bool   `json:"removed,omitempty"`
	Role    string `json:"role"`    // "site" (one replica), "leader" or "follower"
	Version string `json:"version"` // of this process's binary (site.Version)
	// Format is the highest format level this release implements (crdt.MaxFormat);
	// CharterFormat the level of the charter in force. Beyond counts changes held
	// unjudged because they need a level beyond this release (docs/adr/0013).
	Format        int               `json:"format"`
	CharterFormat int               `json:"charterFormat"`
	Beyond        int               `json:"beyond,omitempty"`
	BeyondReason  string            `json:"beyondReason,omitempty"`
	Counters      map[string]uint64 `json:"counters"`
	Transport     TransportStats    `json:"transport"`
}

// TransportStats are the socket-level byte totals of the transport.
type TransportStats struct {
	PacketBytesIn  uint64 `json:"packetBytesIn"`
	PacketBytesOut uint64 `json:"packetBytesOut"`
	StreamBytesIn  uint64 `json:"streamBytesIn"`
	StreamBytesOut uint64 `json:"streamBytesOut"`
	Refused        uint64 `json:"refused"`
	Limited        uint64 `json:"limited"` // inbound streams refused at a limit (among Refused)
}

// WriteRequest is the body of POST /v1/write: operations the site signs as itself, so
// only on objects in its own scope (its site, clusters and status).
type WriteRequest struct {
	Ops []WriteOp `json:"ops"`
	// Soft writes soft fields (a cluster's health and capacity, status) as soft records,
	// as the site itself does, instead of in the change (docs/adr/0010-soft-state.md).
	Soft bool `json:"soft,omitempty"`
}

// WriteOp is one operation of a WriteRequest.
type WriteOp struct {
	Op    string `json:"op"`   // set, delete or remove
	Kind  string `json:"kind"` // site, cluster or status
	Key   string `json:"key"`
	Field string `json:"field,omitempty"`
	Value string `json:"value,omitempty"`
}

// WriteResult answers a write: the id of the change, durable when returned (none when
// every op was soft), and how many soft records it wrote.
type WriteResult struct {
	ID      string `json:"id"`
	Lamport uint64 `json:"lamport"`
	Soft    int    `json:"soft,omitempty"`
}

// Held answers GET /v1/changes/{id}.
type Held struct {
	Held   bool `json:"held"`
	Bodies bool `json:"bodies"` // false for a bounded change held as a header only
}

// FaultRequest is the body of POST /v1/faults (only with faultInjection: true).
type FaultRequest struct {
	Block   []string `json:"block,omitempty"`
	Unblock []string `json:"unblock,omitempty"`
	Clear   bool     `json:"clear,omitempty"` // unblock every peer
}

// serveAPI starts the local HTTP API on the site's unix socket.
func (s *Site) serveAPI() (io.Closer, error) {
	path := s.cfg.SocketPath()
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("api socket: %w", err)
	}
	ln, err := net.Listen("unix", path)
	if err != nil {
		return nil, fmt.Errorf("api socket: %w", err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		ln.Close()
		return nil, fmt.Errorf("api socket: %w", err)
	}
	mux := http.NewServeMux()
	s.routeRead(mux, trusted, s.handleSubmit)
	mux.HandleFunc("GET /v1/whoami", trusted(resFederation, handleWhoami))
	mux.HandleFunc("POST /v1/write", s.handleWrite)
	mux.HandleFunc("POST /v1/faults", s.handleFaults)
	mux.HandleFunc("GET /v1/backup", s.handleBackup) // a consistent copy of the data file (backup.go)
	s.routeClusters(mux)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: s.cfg.Tuning.APIReadHeaderTimeout}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("api", "err", err)
		}
	}()
	return srv, nil
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

func writeErr(w http.ResponseWriter, code int, err error) {
	writeJSON(w, code, map[string]string{"error": err.Error()})
}

func (s *Site) handleState(w http.ResponseWriter, _ *http.Request) {
	st := State{Name: s.cfg.Name, Key: FormatKey(s.signer.Load().Public()), Live: s.live(), Role: s.role(), Version: s.version}
	s.mu.Lock()
	if info, ok := s.rep.Charter().SiteByName(s.cfg.Name); ok {
		st.Region, st.Jurisdiction = info.Region, info.Jurisdiction
	}
	st.Digest = s.rep.Digest().Hex()
	for _, h := range s.rep.Heads() {
		st.Heads = append(st.Heads, h.Hex())
	}
	st.Changes, st.Pending, st.Lacking = s.rep.Len(), s.rep.PendingLen(), s.rep.Lacking()
	st.Stable, st.Skeletons = s.rep.StableLen(), s.rep.SkeletonLen()
	st.SoftDigest = s.rep.SoftDigest().Hex()
	st.Soft, st.SoftOrphans = s.rep.SoftLen()
	st.Removed = s.removedLocked()
	st.Format, st.CharterFormat = crdt.MaxFormat, s.rep.Charter().Format()
	if n, why := s.rep.Beyond(); n > 0 {
		st.Beyond, st.BeyondReason = n, why.Error()
	}
	for _, h := range s.rep.Missing(8) {
		st.Missing = append(st.Missing, h.Hex())
	}
	s.mu.Unlock()
	c := &s.counter
	st.Counters = map[string]uint64{
		"pushedOut": c.pushedOut.Load(), "pushedIn": c.pushedIn.Load(), "forwarded": c.forwarded.Load(),
		"dropped": c.dropped.Load(), "sessionsOut": c.sessionsOut.Load(), "sessionsIn": c.sessionsIn.Load(),
		"sessionFails": c.sessionFails.Load(), "rejected": c.rejected.Load(), "refusedFrames": c.refusedFrames.Load(),
		"hintsOut": c.hintsOut.Load(), "hintsIn": c.hintsIn.Load(), "hintErrors": c.hintErrors.Load(),
		"refusedStreams": c.refusedStreams.Load(), "unbuffered": c.unbuffered.Load(),
		"syncBytes": c.syncBytes.Load(), "syncPayload": c.syncPayload.Load(), "syncMessages": c.syncMessages.Load(),
		"softWritten": c.softWritten.Load(), "softIn": c.softIn.Load(), "softSessions": c.softSessions.Load(), "softBytes": c.softBytes.Load(),
		"suspects": c.suspects.Load(), "deaths": c.deaths.Load(), "refutes": c.refutes.Load(), "peersLost": c.peersLost.Load(),
	}
	t, _ := s.trans.Stats()
	st.Transport = TransportStats{t.PacketBytesIn, t.PacketBytesOut, t.StreamBytesIn, t.StreamBytesOut, t.Refused, t.Limited}
	writeJSON(w, http.StatusOK, st)
}

// ops converts a write request, naming the first bad operation.
func (r WriteRequest) ops() ([]crdt.Op, error) {
	if len(r.Ops) == 0 {
		return nil, errors.New("no operations")
	}
	out := make([]crdt.Op, 0, len(r.Ops))
	for i, o := range r.Ops {
		t, err := crdt.ParseOpType(o.Op)
		if err == nil && t == crdt.OpSeal {
			err = errors.New("seal is not available here: bodies come with operator changes")
		}
		if err != nil {
			return nil, fmt.Errorf("ops[%d]: %w", i, err)
		}
		k, err := crdt.ParseKind(o.Kind)
		if err != nil {
			return nil, fmt.Errorf("ops[%d]: %w", i, err)
		}
		op := crdt.Op{Type: t, Kind: k, Key: o.Key, Field: o.Field}
		if t == crdt.OpSet {
			op.Value = []byte(o.Value)
		}
		out = append(out, op)
	}
	return out, nil
}

func (s *Site) handleWrite(w http.ResponseWriter, r *http.Request) {
	var req WriteRequest
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, crdt.MaxHeaderBytes))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		writeErr(w, http.StatusBadRequest, fmt.Errorf("write request: %w", err))
		return
	}
	ops, err := req.ops()
	if err != nil {
		writeErr(w, http.StatusBadRequest, fmt.Errorf("write request: %w", err))
		return
	}
	var env *crdt.Envelope
	soft := 0
	if req.Soft {
		env, soft, err = s.record(ops)
	} else {
		env, err = s.Write(ops)
	}
	if errors.Is(err, ErrNotLeader) {
		writeErr(w, http.StatusServiceUnavailable, err)
		return
	}
	if err != nil {
		writeErr(w, http.StatusUnprocessableEntity, err)
		return
	}
	res := WriteResult{Soft: soft}
	if env != nil {
		res.ID, res.Lamport = env.ID.Hex(), env.Change.Lamport
	}
	writeJSON(w, http.StatusOK, res)
}

// Write signs ops as this site, stores them durably (on a majority of the site's
// replicas, if it has several) and pushes them to every live peer.
func (s *Site) Write(ops []crdt.Op) (*crdt.Envelope, error) {
	if s.cfg.Observer {
		return nil, ErrObserver
	}
	if !s.leader() {
		return nil, ErrNotLeader
	}
	s.mu.Lock()
	if s.removedLocked() {
		s.mu.Unlock()
		return nil, ErrRemoved
	}
	env, err := s.core.Write(s.signer.Load(), ops, nil, nil)
	rd := s.core.Ready()
	s.persist(rd)
	s.mu.Unlock()
	if err != nil {
		return nil, err
	}
	if err := s.replicate(entryChange, env.Encode()); err != nil {
		return nil, err
	}
	s.do(rd) // pushed once the site's replicas hold it
	return env, nil
}

// handleSubmit accepts a change signed elsewhere (an operator's client) on the local
// socket, whose callers hold the data dir.
func (s *Site) handleSubmit(w http.ResponseWriter, r *http.Request) {
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, crdt.MaxEnvelopeBytes))
	if err != nil {
		writeErr(w, http.StatusBadRequest, fmt.Errorf("change: %w", err))
		return
	}
	s.submit(w, b)
}

// submit decodes, checks and stores a submitted change, and answers.
func (s *Site) submit(w http.ResponseWriter, b []byte) {
	res, code, err := s.accept(b)
	if err != nil {
		writeErr(w, code, err)
		return
	}
	writeJSON(w, http.StatusOK, res)
}

// accept decodes, checks and stores a change a client submitted (an operator's, or the
// site's Kubernetes API's): this site must lead and lie inside the change's bound, the
// change must pass admission (quotas) and be valid. It returns the HTTP status of a
// refusal with its error.
func (s *Site) accept(b []byte) (WriteResult, int, error) {
	env, err := crdt.DecodeEnvelope(b)
	if err != nil {
		return WriteResult{}, http.StatusBadRequest, err
	}
	if !s.leader() {
		return WriteResult{}, http.StatusServiceUnavailable, ErrNotLeader
	}
	s.mu.Lock()
	if len(env.Change.Bound) > 0 && !s.rep.Inside(env.Change.Bound) {
		s.mu.Unlock()
		return WriteResult{}, http.StatusUnprocessableEntity, fmt.Errorf("change is bounded to %v and this site is outside: submit it to a site inside the bound", env.Change.Bound)
	}
	if err := s.rep.Admit(env); err != nil {
		// Quotas: refused here, not invalid; counted as a rejection for its reason.
		s.metrics.noteResult(0, []crdt.Rejection{{ID: env.ID, Err: err}})
		s.mu.Unlock()
		return WriteResult{}, http.StatusUnprocessableEntity, err
	}
	res := s.core.Submit(b)
	rd := s.core.Ready()
	s.persist(rd)
	s.mu.Unlock()
	s.do(rd)
	s.counter.unbuffered.Add(uint64(res.Unbuffered))
	switch {
	case len(res.Rejected) > 0:
		return WriteResult{}, http.StatusUnprocessableEntity, res.Rejected[0].Err
	case res.Beyond > 0:
		return WriteResult{}, http.StatusServiceUnavailable, fmt.Errorf("not stored: %s", s.behindFormat())
	case res.Unbuffered > 0:
		return WriteResult{}, http.StatusUnprocessableEntity, errors.New("change depends on changes this site does not hold and its author is not in the charter this site holds; not stored")
	case res.Buffered > 0:
		return WriteResult{}, http.StatusConflict, errors.New("change depends on changes this site does not hold; not stored yet")
	}
	return WriteResult{ID: env.ID.Hex(), Lamport: env.Change.Lamport}, http.StatusOK, nil
}

func (s *Site) handleHas(w http.ResponseWriter, r *http.Request) {
	b, err := hex.DecodeString(r.PathValue("id"))
	if err != nil || len(b) != 32 {
		writeErr(w, http.StatusBadRequest, errors.New("change id: want 64 hex digits"))
		return
	}
	wait, _ := time.ParseDuration(r.URL.Query().Get("wait"))
	wait = min(wait, s.cfg.Tuning.MaxWait)
	if wait > 0 { // a long poll outlives the HTTP server's read and write timeouts
		rc := http.NewResponseController(w)
		_ = rc.SetReadDeadline(time.Time{})
		_ = rc.SetWriteDeadline(time.Now().Add(wait + s.httpLim.WriteTimeout.D()))
	}
	timeout := time.After(wait)
	for {
		s.mu.Lock()
		ok, arrived := s.rep.Has(crdt.Hash(b)), s.arrived
		s.mu.Unlock()
		if ok || wait <= 0 {
			break
		}
		select {
		case <-arrived:
			continue
		case <-timeout:
		case <-r.Context().Done():
		}
		break
	}
	s.mu.Lock()
	ok, bodies := s.rep.Has(crdt.Hash(b)), s.rep.HoldsBodies(crdt.Hash(b))
	s.mu.Unlock()
	if !ok {
		writeErr(w, http.StatusNotFound, errors.New("change not held"))
		return
	}
	writeJSON(w, http.StatusOK, Held{Held: true, Bodies: bodies})
}

func (s *Site) handleFaults(w http.ResponseWriter, r *http.Request) {
	if !s.cfg.FaultInjection {
		writeErr(w, http.StatusForbidden, errors.New("fault injection is off (faultInjection: true in site.yaml)"))
		return
	}
	var req FaultRequest
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<16)).Decode(&req); err != nil {
		writeErr(w, http.StatusBadRequest, err)
		return
	}
	if req.Clear {
		s.trans.Unblock()
	}
	if len(req.Unblock) > 0 {
		s.trans.Unblock(req.Unblock...)
	}
	if len(req.Block) > 0 {
		s.trans.Block(req.Block...)
	}
	s.log.Info("faults set", "blocked", s.trans.Blocked())
	writeJSON(w, http.StatusOK, map[string][]string{"blocked": s.trans.Blocked()})
}

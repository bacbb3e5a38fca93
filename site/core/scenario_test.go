package core_test

import (
	"cmp"
	"crypto/sha256"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/datadriven"

	"atoll/crdt"
	"atoll/peering"
	"atoll/site/core"
)

// TestScenarios runs the scripted scenarios under testdata: several cores on an
// in-memory network, driven the way package site drives one core (persist each Ready,
// then send what it says). The commands:
//
//	add-sites n=N            sites s1..sN in one charter, all live to each other
//	write site=S cluster=C health=H   S writes its cluster C's health; pushed at once
//	deliver                  one round: every message in flight arrives
//	stabilize                rounds until nothing is in flight
//	tick [d=DURATION]        time passes: every site advertises its heads to the sites it
//	                         reaches and starts the sync sessions its core says are due
//	partition groups=a,b/c   the membership splits: sites in different groups are down
//	                         to each other, and what was in flight between them is lost
//	heal                     one group again
//	kill site=S              S stops: what it did not persist is gone
//	restart site=S           S starts again from what it persisted
//	forge from=S to=T n=N    S pushes N changes outside its scope to T
//	write-soft site=S cluster=C health=H   S signs its cluster's soft record; pushed at once
//	soft-sessions            every site that is up runs a soft session with the peers that
//	                         asked for one, and with one at random
//	alive site=S settle=D [startup=D]   S's view of which sites are alive
//	check-converged          the same changes and digest at every site that is up
//
// Rewrite the expected output with `go test ./site/core -run TestScenarios -rewrite`.
func TestScenarios(t *testing.T) {
	datadriven.Walk(t, "testdata", func(t *testing.T, path string) {
		var w *world
		datadriven.RunTest(t, path, func(t *testing.T, d *datadriven.TestData) string {
			if d.Cmd != "add-sites" && w == nil {
				d.Fatalf(t, "add-sites first")
			}
			switch d.Cmd {
			case "add-sites":
				var n int
				d.ScanArgs(t, "n", &n)
				w = newWorld(t, n)
				return w.summary()
			case "write":
				var site, cluster, health string
				d.ScanArgs(t, "site", &site)
				d.ScanArgs(t, "cluster", &cluster)
				d.ScanArgs(t, "health", &health)
				return w.write(t, site, cluster, health)
			case "deliver":
				return fmt.Sprintf("%d delivered\n", w.deliver())
			case "stabilize":
				rounds, msgs := 0, 0
				for len(w.inflight) > 0 {
					msgs += w.deliver()
					if rounds++; rounds > 1000 {
						d.Fatalf(t, "not stable after 1000 rounds")
					}
				}
				return fmt.Sprintf("%d messages in %d rounds\n", msgs, rounds) + w.summary()
			case "tick":
				dur := time.Second
				if d.HasArg("d") {
					var s string
					d.ScanArgs(t, "d", &s)
					var err error
					if dur, err = time.ParseDuration(s); err != nil {
						d.Fatalf(t, "d: %v", err)
					}
				}
				return w.tick(dur)
			case "partition":
				var groups string
				d.ScanArgs(t, "groups", &groups)
				return w.partition(strings.Split(groups, "/"))
			case "heal":
				return w.partition([]string{strings.Join(w.names(), ",")})
			case "kill":
				var site string
				d.ScanArgs(t, "site", &site)
				return w.kill(site)
			case "restart":
				var site string
				d.ScanArgs(t, "site", &site)
				return w.restart(t, site)
			case "forge":
				var from, to string
				var n int
				d.ScanArgs(t, "from", &from)
				d.ScanArgs(t, "to", &to)
				d.ScanArgs(t, "n", &n)
				return w.forge(t, from, to, n)
			case "alive":
				var site string
				d.ScanArgs(t, "site", &site)
				dur := func(arg string) time.Duration {
					if !d.HasArg(arg) {
						return 0
					}
					var s string
					d.ScanArgs(t, arg, &s)
					v, err := time.ParseDuration(s)
					if err != nil {
						d.Fatalf(t, "%s: %v", arg, err)
					}
					return v
				}
				alive, next := w.sites[site].core.Alive(w.now, w.names(), dur("settle"), dur("startup"))
				var names []string
				for name := range alive {
					names = append(names, name)
				}
				slices.Sort(names)
				return fmt.Sprintf("alive %v, next change in %v\n", names, next)
			case "write-soft":
				var site, cluster, health string
				d.ScanArgs(t, "site", &site)
				d.ScanArgs(t, "cluster", &cluster)
				d.ScanArgs(t, "health", &health)
				return w.writeSoft(site, cluster, health)
			case "soft-sessions":
				return w.softSessions()
			case "check-converged":
				return w.converged()
			}
			d.Fatalf(t, "unknown command %q", d.Cmd)
			return ""
		})
	})
}

type msgKind int

const (
	msgPush msgKind = iota
	msgSyncReq
	msgSyncResp
	msgSoftPush
	msgSoftReq
	msgSoftResp
)

type message struct {
	from, to string
	kind     msgKind
	sid      uint64
	data     []byte
	frames   [][]byte // a soft session's frames of one turn
}

type simSite struct {
	name     string
	signer   *crdt.Signer
	core     *core.Core // nil while down
	durable  [][]byte   // what the site persisted, in order
	sessions map[uint64]*core.Session
	soft     map[uint64]*core.SoftSession
	softRows map[string][]byte // the soft records it persisted, by kind and key
	events   []string          // the events of the last input
}

type world struct {
	genesis  []byte
	sites    map[string]*simSite
	group    map[string]int
	inflight []message
	now      time.Time
	nextSID  uint64
	seed     uint64
}

func signer(role string, i int) *crdt.Signer {
	s := sha256.Sum256(fmt.Appendf(nil, "%s/%d", role, i))
	return crdt.SignerFromSeed(s[:])
}

func newWorld(t *testing.T, n int) *world {
	admin := signer("admin", 0)
	spec := crdt.CharterSpec{Name: "scenario", Threshold: 1, Admins: []crdt.Member{{Name: "ada", Key: admin.Public()}}}
	w := &world{sites: map[string]*simSite{}, group: map[string]int{}, now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), seed: 1}
	for i := 1; i <= n; i++ {
		s := &simSite{name: fmt.Sprintf("s%d", i), signer: signer("site", i)}
		w.sites[s.name] = s
		spec.Sites = append(spec.Sites, crdt.SiteInfo{Name: s.name, Key: s.signer.Public(), Region: s.name, Jurisdiction: "EU"})
	}
	g, err := crdt.NewGenesis(spec, admin)
	if err != nil {
		t.Fatal(err)
	}
	w.genesis = g.Encode()
	for _, name := range w.names() {
		w.start(t, w.sites[name])
	}
	w.membership()
	return w
}

func (w *world) names() []string {
	var out []string
	for name := range w.sites {
		out = append(out, name)
	}
	slices.SortFunc(out, func(a, b string) int { return cmp.Or(cmp.Compare(len(a), len(b)), strings.Compare(a, b)) })
	return out
}

// start builds a site's core from what it persisted.
func (w *world) start(t *testing.T, s *simSite) {
	rep, err := crdt.NewReplica(crdt.Config{Genesis: w.genesis, Self: s.signer.Public()})
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range s.durable {
		if err := rep.Restore(b); err != nil {
			t.Fatalf("%s restoring: %v", s.name, err)
		}
	}
	for _, k := range slices.Sorted(maps.Keys(s.softRows)) {
		if err := rep.RestoreSoft(s.softRows[k]); err != nil {
			t.Fatalf("%s restoring soft records: %v", s.name, err)
		}
	}
	w.seed++
	s.core = core.New(core.Config{Self: s.name, Replica: rep, Rand: rand.New(rand.NewPCG(w.seed, 7)), Fanout: 2,
		Sync: peering.Config{Interval: 30 * time.Second, Grace: 500 * time.Millisecond}})
	s.sessions, s.soft = map[uint64]*core.Session{}, map[uint64]*core.SoftSession{}
	if s.softRows == nil {
		s.softRows = map[string][]byte{}
	}
	s.core.Lead(w.now)
}

func (w *world) reach(a, b string) bool {
	return a != b && w.sites[a].core != nil && w.sites[b].core != nil && w.group[a] == w.group[b]
}

// membership tells every up site which others are up and reachable, as memberlist
// would, and carries out what each core asks.
func (w *world) membership() {
	for _, a := range w.names() {
		s := w.sites[a]
		if s.core == nil {
			continue
		}
		for _, b := range w.names() {
			switch {
			case w.reach(a, b):
				s.core.PeerUp(b, w.sites[b].signer.Public(), b+":7946", w.now)
			case a != b:
				s.core.PeerDown(b, w.now)
			}
		}
		w.ready(s)
	}
}

// ready persists a site's Ready, then sends what it says, as the shell does.
func (w *world) ready(s *simSite) {
	rd := s.core.Ready()
	for _, env := range rd.Persist.Stored {
		s.durable = append(s.durable, env.Encode())
	}
	for _, c := range rd.Soft {
		if k := fmt.Sprintf("%d/%s", c.Kind, c.Key); c.Raw == nil {
			delete(s.softRows, k)
		} else {
			s.softRows[k] = c.Raw
		}
	}
	for _, p := range rd.SoftPush {
		for _, to := range p.To {
			w.send(message{from: s.name, to: to, kind: msgSoftPush, data: p.Raw})
		}
	}
	for _, p := range rd.Push {
		for _, to := range p.To {
			peer, _ := s.core.Peer(to)
			for _, id := range p.IDs {
				if b, ok := s.core.Replica().EnvelopeFor(id, peer.Key); ok {
					w.send(message{from: s.name, to: to, kind: msgPush, data: b})
				}
			}
		}
	}
	s.events = s.events[:0]
	for _, e := range rd.Events {
		s.events = append(s.events, e.Text)
	}
}

func (w *world) send(m message) {
	if w.reach(m.from, m.to) {
		w.inflight = append(w.inflight, m)
	}
}

func (w *world) write(t *testing.T, site, cluster, health string) string {
	s := w.sites[site]
	env, err := s.core.Write(s.signer, []crdt.Op{{Type: crdt.OpSet, Kind: crdt.KindCluster, Key: crdt.ClusterKey(site, cluster), Field: "health", Value: []byte(health)}}, nil, nil)
	if err != nil {
		return fmt.Sprintf("error: %v\n", err)
	}
	rd := len(w.inflight)
	w.ready(s)
	return fmt.Sprintf("%s wrote %s, %d pushes\n", site, env.ID.String()[:8], len(w.inflight)-rd)
}

// deliver delivers every message in flight, and returns how many there were.
func (w *world) deliver() int {
	msgs := w.inflight
	w.inflight = nil
	for _, m := range msgs {
		if !w.reach(m.from, m.to) {
			continue
		}
		s := w.sites[m.to]
		switch m.kind {
		case msgPush:
			s.core.Receive(m.from, [][]byte{m.data}, w.now)
		case msgSoftPush:
			s.core.ReceiveSoft(m.from, [][]byte{m.data}, w.now)
		case msgSoftReq, msgSoftResp:
			w.softStep(s, m)
		case msgSyncReq, msgSyncResp:
			sess := s.sessions[m.sid]
			if sess == nil && m.kind == msgSyncReq {
				var err error
				if sess, err = s.core.Respond(m.from, w.sites[m.from].signer.Public()); err != nil {
					continue
				}
				s.sessions[m.sid] = sess
			}
			if sess == nil {
				continue
			}
			reply, err := s.core.Step(sess, m.data, w.now)
			w.ready(s) // persist before the reply goes out
			if err == nil && reply != nil {
				kind := msgSyncResp
				if m.kind == msgSyncResp {
					kind = msgSyncReq
				}
				w.send(message{from: s.name, to: m.from, kind: kind, sid: m.sid, data: reply})
			}
			if err != nil || sess.Done() {
				s.core.End(sess, err == nil)
				delete(s.sessions, m.sid)
			}
		}
		w.ready(s)
	}
	return len(msgs)
}

func (w *world) tick(d time.Duration) string {
	w.now = w.now.Add(d)
	for _, a := range w.names() {
		s := w.sites[a]
		if s.core == nil {
			continue
		}
		heads := s.core.Replica().Heads()
		hs := make([][32]byte, len(heads))
		for i, h := range heads {
			hs[i] = h
		}
		meta := peering.NewMeta(s.core.Replica().Len(), hs)
		for _, b := range w.names() {
			if w.reach(a, b) {
				w.sites[b].core.Advertised(a, meta)
			}
		}
	}
	var out strings.Builder
	for _, a := range w.names() {
		s := w.sites[a]
		if s.core == nil {
			continue
		}
		w.ready(s)
		for _, peer := range s.core.Due(w.now) {
			sess, hello, err := s.core.Initiate(peer)
			if err != nil {
				continue
			}
			w.nextSID++
			s.sessions[w.nextSID] = sess
			fmt.Fprintf(&out, "%s starts a session with %s\n", a, peer)
			w.send(message{from: a, to: peer, kind: msgSyncReq, sid: w.nextSID, data: hello})
		}
	}
	return out.String()
}

func (w *world) partition(groups []string) string {
	for i, g := range groups {
		for _, name := range strings.Split(g, ",") {
			w.group[name] = i
		}
	}
	w.cut()
	return w.liveness()
}

// cut ends the sessions that span sites which no longer reach each other.
func (w *world) cut() {
	for _, a := range w.names() {
		s := w.sites[a]
		if s.core == nil {
			continue
		}
		for sid, sess := range s.sessions {
			if !w.reach(a, sess.Peer()) {
				s.core.End(sess, false)
				delete(s.sessions, sid)
			}
		}
	}
	w.membership()
}

func (w *world) liveness() string {
	var out strings.Builder
	for _, a := range w.names() {
		if s := w.sites[a]; s.core != nil {
			fmt.Fprintf(&out, "%s sees %v\n", a, s.core.Live())
		} else {
			fmt.Fprintf(&out, "%s down\n", a)
		}
	}
	return out.String()
}

func (w *world) kill(site string) string {
	w.sites[site].core = nil
	w.sites[site].sessions, w.sites[site].soft = nil, nil
	w.cut()
	return w.liveness()
}

func (w *world) restart(t *testing.T, site string) string {
	w.start(t, w.sites[site])
	w.membership()
	return w.liveness()
}

// forge makes from sign n changes that set the health of to's first cluster, which only
// to may write, and push them to to.
func (w *world) forge(t *testing.T, from, to string, n int) string {
	s, victim := w.sites[from], w.sites[to]
	var out strings.Builder
	for i := range n {
		c := s.core.Replica().Prepare([]crdt.Op{{Type: crdt.OpSet, Kind: crdt.KindCluster, Key: crdt.ClusterKey(to, "c1"), Field: "health", Value: fmt.Appendf(nil, "forged-%d", i)}}, nil)
		env, err := crdt.Sign(c, nil, s.signer)
		if err != nil {
			t.Fatal(err)
		}
		res, ok := victim.core.Receive(from, [][]byte{env.Encode()}, w.now)
		w.ready(victim)
		if !ok {
			fmt.Fprintf(&out, "%s refuses %s after %d forged changes\n", to, from, i+1)
			return out.String()
		}
		if i == 0 {
			fmt.Fprintf(&out, "stored %d, rejected %d: %s\n", len(res.Stored), len(res.Rejected), strings.Join(victim.events, "; "))
		}
	}
	fmt.Fprintf(&out, "%s still accepts %s\n", to, from)
	return out.String()
}

func (w *world) summary() string {
	var out strings.Builder
	for _, a := range w.names() {
		if s := w.sites[a]; s.core != nil {
			fmt.Fprintf(&out, "%s: %d changes\n", a, s.core.Replica().Len())
		}
	}
	return out.String()
}

func (w *world) converged() string {
	var first *simSite
	var diff []string
	for _, a := range w.names() {
		s := w.sites[a]
		if s.core == nil {
			continue
		}
		if first == nil {
			first = s
			continue
		}
		if s.core.Replica().Digest() != first.core.Replica().Digest() || s.core.Replica().SoftDigest() != first.core.Replica().SoftDigest() {
			diff = append(diff, fmt.Sprintf("%s (%d changes) differs from %s (%d changes)", a, s.core.Replica().Len(), first.name, first.core.Replica().Len()))
		}
	}
	if len(diff) > 0 {
		return "not converged: " + strings.Join(diff, "; ") + "\n"
	}
	held, _ := first.core.Replica().SoftLen()
	return fmt.Sprintf("converged: %d changes, %d soft records\n", first.core.Replica().Len(), held)
}

// writeSoft has site sign its cluster's health as a soft record.
func (w *world) writeSoft(site, cluster, health string) string {
	s := w.sites[site]
	_, err := s.core.WriteSoft(s.signer, uint64(w.now.UnixMilli()), crdt.KindCluster, crdt.ClusterKey(site, cluster),
		[]crdt.SoftField{{Name: "health", Value: []byte(health)}})
	if err != nil {
		return fmt.Sprintf("error: %v\n", err)
	}
	before := len(w.inflight)
	w.ready(s)
	return fmt.Sprintf("%s wrote its record of %s, %d pushes\n", site, cluster, len(w.inflight)-before)
}

// softSessions starts the soft sessions every site that is up asks its core for.
func (w *world) softSessions() string {
	var out strings.Builder
	for _, a := range w.names() {
		s := w.sites[a]
		if s.core == nil {
			continue
		}
		for _, peer := range s.core.SoftPeers(true) {
			sess, first := s.core.InitiateSoft(peer, w.now)
			w.nextSID++
			s.soft[w.nextSID] = sess
			fmt.Fprintf(&out, "%s starts a soft session with %s\n", a, peer)
			w.send(message{from: a, to: peer, kind: msgSoftReq, sid: w.nextSID, frames: [][]byte{first}})
		}
	}
	return out.String()
}

// softStep gives a turn of soft session frames to s's core, and sends its answer after
// persisting what the turn stored.
func (w *world) softStep(s *simSite, m message) {
	sess := s.soft[m.sid]
	if sess == nil && m.kind == msgSoftReq {
		var err error
		if sess, err = s.core.RespondSoft(m.from, w.now); err != nil {
			return
		}
		s.soft[m.sid] = sess
	}
	if sess == nil {
		return
	}
	var reply [][]byte
	var err error
	for _, f := range m.frames {
		var out [][]byte
		if out, err = s.core.StepSoft(sess, f, w.now); err != nil {
			break
		}
		reply = append(reply, out...)
	}
	w.ready(s)
	if err == nil && len(reply) > 0 {
		kind := msgSoftResp
		if m.kind == msgSoftResp {
			kind = msgSoftReq
		}
		w.send(message{from: s.name, to: m.from, kind: kind, sid: m.sid, frames: reply})
	}
	if err != nil || sess.Done() {
		s.core.EndSoft(sess, w.now)
		delete(s.soft, m.sid)
	}
}

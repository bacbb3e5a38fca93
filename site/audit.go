package site

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"atoll/crdt"
	"atoll/site/kube"
)

// AuditRecord is one of a site's own records for the residency audit, kept in its data
// file: a sealed body handed to a peer ("sent"), a workload applied in one of its
// clusters ("ran"), or a workload it refused to actuate ("refused").
type AuditRecord struct {
	Type         string    `json:"type"`
	Site         string    `json:"site"`               // the recording site
	Jurisdiction string    `json:"jurisdiction"`       // of the peer (sent) or of the site (ran, refused)
	Bound        []string  `json:"bound,omitempty"`    // the change's or workload's bound
	Change       string    `json:"change,omitempty"`   // sent: the change id
	Peer         string    `json:"peer,omitempty"`     // sent: the receiving site
	Workload     string    `json:"workload,omitempty"` // ran, refused: namespace/name
	Cluster      string    `json:"cluster,omitempty"`  // ran
	Replicas     int       `json:"replicas,omitempty"` // ran: the last applied
	Reason       string    `json:"reason,omitempty"`   // refused
	First        time.Time `json:"first"`
	Last         time.Time `json:"last"`
}

// Breach reports whether the record shows a body or a workload outside its bound.
func (r AuditRecord) Breach() bool {
	return r.Type != "refused" && len(r.Bound) > 0 && !slices.Contains(r.Bound, r.Jurisdiction)
}

// auditLog buffers records until the reconciler writes them to the data file. It has its
// own lock: bodySent is called with mu held.
type auditLog struct {
	mu      sync.Mutex
	pending map[string]AuditRecord
	seen    map[string]string // key -> what was last written, to write only changes
}

func newAuditLog() *auditLog {
	return &auditLog{pending: map[string]AuditRecord{}, seen: map[string]string{}}
}

// add buffers a record unless the same one (ignoring Last) was written in the last minute.
func (a *auditLog) add(key string, r AuditRecord, sig string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.seen[key] == sig {
		return
	}
	if p, ok := a.pending[key]; ok {
		r.First = p.First
	}
	a.pending[key] = r
}

// bodySent is crdt's hook: a sealed body is being handed to peer. mu is held.
func (s *Site) bodySent(id crdt.Hash, peer crdt.PubKey, bound []string) {
	name := s.sites.Load().byKey[peer]
	now := time.Now()
	jur := s.rep.PeerCharter().Jurisdiction(peer) // what crdt released the body by
	key := "sent/" + id.Hex() + "/" + name
	s.audit.add(key, AuditRecord{Type: "sent", Site: s.cfg.Name, Jurisdiction: jur, Bound: bound, Change: id.Hex(), Peer: name, First: now, Last: now}, "x")
}

// ran records that a workload was applied in one of this site's clusters.
func (s *Site) ran(w kube.Workload, cluster string, replicas int) {
	now := time.Now()
	key := "ran/" + w.Namespace + "/" + w.Name + "/" + cluster
	sig := fmt.Sprint(w.Bound, replicas)
	s.audit.add(key, AuditRecord{Type: "ran", Site: s.cfg.Name, Jurisdiction: s.jurisdiction(), Bound: w.Bound,
		Workload: w.Namespace + "/" + w.Name, Cluster: cluster, Replicas: replicas, First: now, Last: now}, sig)
}

// refuse records that this site refused to actuate a workload, and logs it once. why is
// "residency" (the bound excludes this site), "admission" (what the workload would make
// a cluster do is not allowed here) or "limit" (a value above the charter's bound).
func (s *Site) refuse(why, workload, reason string) {
	now := time.Now()
	key := "refused/" + workload
	s.audit.mu.Lock()
	fresh := s.audit.seen[key] != reason
	s.audit.mu.Unlock()
	if fresh {
		s.log.Warn("refused to actuate", "workload", workload, "reason", reason)
		s.events.add(why, workload, "refused "+workload+": "+reason)
		s.metrics.refused.WithLabelValues(why).Inc()
	}
	s.audit.add(key, AuditRecord{Type: "refused", Site: s.cfg.Name, Jurisdiction: s.jurisdiction(), Workload: workload, Reason: reason, First: now, Last: now}, reason)
}

func (s *Site) jurisdiction() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if info, ok := s.rep.Charter().SiteByName(s.cfg.Name); ok {
		return info.Jurisdiction
	}
	return ""
}

// flushAudit writes the buffered records to the data file. Records of one key keep the
// first time they were written. Records it could not write are dropped, and added again
// when they happen again.
func (s *Site) flushAudit() error {
	a := s.audit
	a.mu.Lock()
	pending := a.pending
	a.pending = map[string]AuditRecord{}
	a.mu.Unlock()
	if len(pending) == 0 {
		return nil
	}
	recs := map[string][]byte{}
	s.mu.Lock()
	for key, r := range pending {
		_ = s.st.Audit(key, func(k string, v []byte) error {
			var old AuditRecord
			if k == key && json.Unmarshal(v, &old) == nil {
				r.First = old.First
			}
			return nil
		})
		recs[key], _ = json.Marshal(r)
	}
	err := s.st.PutAudit(recs)
	s.mu.Unlock()
	if err != nil {
		return err
	}
	a.mu.Lock()
	for key, r := range pending {
		switch r.Type {
		case "ran":
			a.seen[key] = fmt.Sprint(r.Bound, r.Replicas)
		case "refused":
			a.seen[key] = r.Reason
		default:
			a.seen[key] = "x"
		}
	}
	a.mu.Unlock()
	return nil
}

// handleAudit serves the site's audit records: GET /v1/audit[?type=sent|ran|refused].
func (s *Site) handleAudit(w http.ResponseWriter, r *http.Request) {
	if err := s.flushAudit(); err != nil {
		s.log.Error("audit records", "err", err)
	}
	prefix := r.URL.Query().Get("type")
	if prefix != "" {
		prefix += "/"
	}
	out := []AuditRecord{}
	s.mu.Lock()
	err := s.st.Audit(prefix, func(_ string, v []byte) error {
		var rec AuditRecord
		if err := json.Unmarshal(v, &rec); err != nil {
			return err
		}
		out = append(out, rec)
		return nil
	})
	s.mu.Unlock()
	if err != nil {
		writeErr(w, http.StatusInternalServerError, err)
		return
	}
	slices.SortFunc(out, func(a, b AuditRecord) int {
		return strings.Compare(a.Type+a.Workload+a.Change+a.Peer+a.Cluster, b.Type+b.Workload+b.Change+b.Peer+b.Cluster)
	})
	if sc := scopeOf(r); sc != nil {
		out = scopeAudit(out, sc)
		w.Header().Set(scopeHeader, scopeName(sc))
	}
	writeJSON(w, http.StatusOK, out)
}

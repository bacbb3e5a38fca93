package site

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"atoll/crdt"
	"atoll/site/kube"
)

// JoinRequest is the body of POST /v1/clusters.
type JoinRequest struct {
	Name       string            `json:"name"`
	Kubeconfig string            `json:"kubeconfig"` // the file's content; it stays in this site's data dir
	Labels     map[string]string `json:"labels,omitempty"`
	Taints     []string          `json:"taints,omitempty"` // "key=value:Effect"
}

// TaintRequest is the body of PUT /v1/clusters/{name}/taints: the cluster's taints, in
// place of its own.
type TaintRequest struct {
	Taints []string `json:"taints"` // "key=value:Effect" or "key:Effect", one per key
}

func (r JoinRequest) entry() kube.Entry {
	return kube.Entry{Name: r.Name, Labels: r.Labels, Taints: r.Taints}
}

// ObjectField is one field of GET /v1/objects/{kind}/{key...}. Secret values and sealed
// bodies are never in Value (servedObject, redact.go).
type ObjectField struct {
	Value  string `json:"value,omitempty"`
	Sealed bool   `json:"sealed,omitempty"`
	// Redacted: sealed, and this site holds the signed header only (the bound excludes
	// it, or the body has not arrived).
	Redacted bool `json:"redacted,omitempty"`
	// Withheld says what Value leaves out: WithheldSealed (all of it, at every site),
	// WithheldSecret (Secret values) or WithheldOpaque (all of it but its length).
	Withheld string `json:"withheld,omitempty"`
	Hash     string `json:"hash,omitempty"` // sealed: the body's hash, as in the signed header
	Lamport  uint64 `json:"lamport"`
}

func (s *Site) routeClusters(mux *http.ServeMux) {
	mux.HandleFunc("POST /v1/clusters", func(w http.ResponseWriter, r *http.Request) {
		var req JoinRequest
		dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&req); err != nil {
			writeErr(w, http.StatusBadRequest, fmt.Errorf("join request: %w", err))
			return
		}
		if err := s.JoinCluster(req); errors.Is(err, ErrNotLeader) {
			writeErr(w, http.StatusServiceUnavailable, err)
			return
		} else if err != nil {
			writeErr(w, http.StatusUnprocessableEntity, err)
			return
		}
		writeJSON(w, http.StatusOK, req.entry())
	})
	mux.HandleFunc("PUT /v1/clusters/{name}/taints", func(w http.ResponseWriter, r *http.Request) {
		var req TaintRequest
		dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 64<<10))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&req); err != nil {
			writeErr(w, http.StatusBadRequest, fmt.Errorf("taint request: %w", err))
			return
		}
		switch err := s.TaintCluster(r.PathValue("name"), req.Taints); {
		case errors.Is(err, kube.ErrNotJoined):
			writeErr(w, http.StatusNotFound, err)
		case errors.Is(err, ErrNotLeader):
			writeErr(w, http.StatusServiceUnavailable, err)
		case err != nil:
			writeErr(w, http.StatusUnprocessableEntity, err)
		default:
			writeJSON(w, http.StatusOK, req)
		}
	})
	mux.HandleFunc("DELETE /v1/clusters/{name}", func(w http.ResponseWriter, r *http.Request) {
		err := s.UnjoinCluster(r.Context(), r.PathValue("name"))
		switch {
		case errors.Is(err, kube.ErrNotJoined):
			writeErr(w, http.StatusNotFound, err)
		case errors.Is(err, ErrNotLeader):
			writeErr(w, http.StatusServiceUnavailable, err)
		case errors.Is(err, ErrLeftBehind):
			writeJSON(w, http.StatusOK, map[string]string{"unjoined": r.PathValue("name"), "warning": err.Error()})
		case err != nil:
			writeErr(w, http.StatusInternalServerError, err)
		default:
			writeJSON(w, http.StatusOK, map[string]string{"unjoined": r.PathValue("name")})
		}
	})
}

// routeObjects adds the read endpoints on clusters, placements, audit records, the tip
// and raw objects.
func (s *Site) routeObjects(mux *http.ServeMux, g guard) {
	mux.HandleFunc("GET /v1/clusters", g(resFederation, func(w http.ResponseWriter, _ *http.Request) {
		list, err := s.kubes.List()
		if err != nil {
			writeErr(w, http.StatusInternalServerError, err)
			return
		}
		writeJSON(w, http.StatusOK, list)
	}))
	mux.HandleFunc("GET /v1/placement/{namespace}/{name}", g(resPlacement, s.handlePlacement))
	mux.HandleFunc("GET /v1/audit", g(resScoped, s.handleAudit))
	mux.HandleFunc("GET /v1/policies", g(resScoped, s.handlePolicies)) // policies.go
	mux.HandleFunc("GET /v1/tip", g(resFederation, func(w http.ResponseWriter, _ *http.Request) {
		s.mu.Lock()
		c := s.rep.Prepare(nil, nil)
		s.mu.Unlock()
		tip := Tip{Lamport: c.Lamport, Deps: []string{}}
		for _, d := range c.Deps {
			tip.Deps = append(tip.Deps, d.Hex())
		}
		writeJSON(w, http.StatusOK, tip)
	}))
	mux.HandleFunc("GET /v1/charter", g(resFederation, s.handleCharter)) // charterdoc.go
	mux.HandleFunc("GET /v1/objects/{kind}/{key...}", g(resObject, func(w http.ResponseWriter, r *http.Request) {
		kind, err := crdt.ParseKind(r.PathValue("kind"))
		if err != nil {
			writeErr(w, http.StatusBadRequest, err)
			return
		}
		s.mu.Lock()
		obj, ok := s.rep.Object(kind, r.PathValue("key"))
		s.mu.Unlock()
		if !ok {
			writeErr(w, http.StatusNotFound, fmt.Errorf("no %s %q", kind, r.PathValue("key")))
			return
		}
		if kind == crdt.KindCharter {
			obj = charterFor(identityOf(r), obj)
		}
		writeJSON(w, http.StatusOK, servedObject(kind, obj))
	}))
}

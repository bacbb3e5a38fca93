package site

import (
	"context"
	"errors"
	"hash/fnv"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"k8s.io/client-go/tools/clientcmd"

	"atoll/apply"
	"atoll/crdt"
	"atoll/deploy/fedapi"
	"atoll/site/fedsync"
)

// The site's Kubernetes API (site.yaml kubeAPI:): while the site leads, it runs a
// federation API server (deploy/fedapi: a real kube-apiserver with its own etcd and
// Karmada's policy CRDs) and the controller that keeps it and the replicated state in
// step (site/fedsync). What users write there is stored signed by the operator key
// kubeAPI.operatorKey names, so the charter bounds what one site's API may write: the
// namespaces granted to that operator.

// The client rate of the controller against the site's own API server.
const (
	kubeAPIQPS   = 500
	kubeAPIBurst = 1000
)

// KubeAPIConfig configures a site's Kubernetes API.
type KubeAPIConfig struct {
	// OperatorKey is the key file of the charter operator the API's writes are signed
	// with (relative to the site file). Required.
	OperatorKey string `json:"operatorKey"`
	// Dir holds the API server's etcd data, certificates and kubeconfig (default
	// <dataDir>/kubeapi).
	Dir string `json:"dir,omitempty"`
	// BinDir holds etcd and kube-apiserver (default: where `make kube` builds them).
	BinDir string `json:"binDir,omitempty"`
	// External: etcd and kube-apiserver are not started by the site but run beside it
	// (the Helm chart's containers of its pod) with the arguments `atoll kubeapi args
	// --dir <dir>` prints, after `atoll kubeapi prepare`; the site attaches to the
	// apiserver at 127.0.0.1:6443 and installs the CRDs. BinDir does not apply.
	External bool `json:"external,omitempty"`
}

func (k *KubeAPIConfig) validate(observer bool) error {
	switch {
	case k == nil:
		return nil
	case observer:
		return errors.New("kubeAPI: an observer writes nothing, so serves no Kubernetes API")
	case k.OperatorKey == "":
		return errors.New("kubeAPI: operatorKey is required: the operator its writes are signed as")
	case k.External && k.BinDir != "":
		return errors.New("kubeAPI: binDir names the binaries the site starts; with external, it starts none")
	}
	return nil
}

// kubeAPIDir is where the API server keeps its files.
func (s *Site) kubeAPIDir() string {
	if d := s.cfg.KubeAPI.Dir; d != "" {
		return s.cfg.Path(d)
	}
	return filepath.Join(s.cfg.Path(s.cfg.DataDir), "kubeapi")
}

// kubeAPILoop runs the API server and its controller until ctx is done, starting them
// again (after a pause) if either fails.
func (s *Site) kubeAPILoop(ctx context.Context) {
	defer s.wg.Done()
	signer, err := LoadKeyFile(s.cfg.Path(s.cfg.KubeAPI.OperatorKey))
	if err != nil {
		s.log.Error("kubernetes API: operator key", "err", err)
		return
	}
	for ctx.Err() == nil {
		if err := s.serveKubeAPI(ctx, signer); err != nil && ctx.Err() == nil {
			s.log.Error("kubernetes API", "err", err)
			select {
			case <-ctx.Done():
			case <-time.After(s.cfg.Tuning.ReconcileBackoffMax):
			}
		}
	}
}

// serveKubeAPI starts the API server, runs the controller until ctx is done, and stops
// the API server.
func (s *Site) serveKubeAPI(ctx context.Context, signer *crdt.Signer) error {
	o := fedapi.Options{Dir: s.kubeAPIDir(), Logger: s.log.With("component", "kubeapi")}
	start := fedapi.Attach
	if !s.cfg.KubeAPI.External {
		o.BinDir, start = s.cfg.KubeAPI.BinDir, fedapi.Start
	}
	srv, err := start(ctx, o)
	if err != nil {
		return err
	}
	defer func() {
		if err := srv.Stop(); err != nil {
			s.log.Warn("kubernetes API: stopping the API server", "err", err)
		}
	}()
	rc, err := clientcmd.BuildConfigFromFlags("", srv.Kubeconfig())
	if err != nil {
		return err
	}
	// The site's own API server on loopback: client-go's default of 5 requests a second
	// would hold every write back 200 ms behind the controller's status updates.
	rc.QPS, rc.Burst = kubeAPIQPS, kubeAPIBurst
	c, err := fedsync.New(fedsync.Config{REST: rc, Store: kubeStore{s, signer}, Log: s.log.With("component", "kubeapi")})
	if err != nil {
		return err
	}
	proxy, err := newKubeProxy(srv)
	if err != nil {
		return err
	}
	s.kube.Store(proxy)
	defer s.kube.Store(nil)
	s.log.Info("kubernetes API ready", "url", srv.URL(), "kubeconfig", srv.Kubeconfig(), "proxy", s.cfg.HTTP != "")
	return c.Run(ctx)
}

// kubeStore is the replicated state as the Kubernetes API's controller sees it.
type kubeStore struct {
	s      *Site
	signer *crdt.Signer // the API's operator
}

func (k kubeStore) Headers() []fedsync.Header {
	s := k.s
	s.mu.Lock()
	defer s.mu.Unlock()
	// What the sites report of each workload, as one hash per workload: a status record
	// that changes changes its workload's version.
	status := map[string]uint64{}
	s.rep.EachStatus(func(key string, f crdt.StatusFields) {
		wk, _, _, ok := splitStatus(key)
		if !ok {
			return
		}
		h := fnv.New64a()
		h.Write([]byte(key))
		for _, name := range statusFields {
			h.Write([]byte{0})
			h.Write(f.Get(name))
		}
		status[wk] ^= h.Sum64() // in any order
	})
	var out []fedsync.Header
	for _, key := range s.rep.Keys(crdt.KindWorkload, "") {
		obj, _ := s.rep.Object(crdt.KindWorkload, key)
		h := fedsync.Header{Ref: fedsync.Ref{Kind: crdt.KindWorkload, Key: key},
			APIVersion: string(obj["apiVersion"].Bytes), Kind: string(obj["kind"].Bytes)}
		h.Version = newestChange(obj) + "/" + strconv.FormatUint(status[key], 16)
		out = append(out, h)
	}
	for _, key := range s.rep.Keys(crdt.KindPolicy, "") {
		obj, _ := s.rep.Object(crdt.KindPolicy, key)
		out = append(out, fedsync.Header{Ref: fedsync.Ref{Kind: crdt.KindPolicy, Key: key}, Version: newestChange(obj)})
	}
	return out
}

// newestChange is the change that wrote an object's newest field: the highest Lamport
// time, then the highest change id, so that every call and every site agree.
func newestChange(obj map[string]crdt.Value) string {
	var newest uint64
	var change string
	for _, v := range obj {
		if h := v.Change.Hex(); v.Lamport > newest || v.Lamport == newest && h > change {
			newest, change = v.Lamport, h
		}
	}
	return change
}

func (k kubeStore) Get(r fedsync.Ref) fedsync.Object {
	s := k.s
	s.mu.Lock()
	defer s.mu.Unlock()
	out := fedsync.Object{Header: fedsync.Header{Ref: r}}
	obj, ok := s.rep.Object(r.Kind, r.Key)
	if !ok || len(obj) == 0 {
		return out
	}
	out.Exists = true
	out.Change = newestChange(obj)
	body := "object"
	if r.Kind == crdt.KindWorkload {
		body = "template"
		out.APIVersion, out.Kind = string(obj["apiVersion"].Bytes), string(obj["kind"].Bytes)
	}
	if v, ok := obj[body]; ok && !v.Redacted {
		out.Held, out.Manifest = true, v.Bytes
	}
	return out
}

func (k kubeStore) Write(_ context.Context, chs []apply.Change) error {
	s := k.s
	for _, ch := range chs {
		s.mu.Lock()
		prep := s.rep.Prepare(ch.Ops, ch.Bound)
		s.mu.Unlock()
		env, err := crdt.Sign(prep, ch.Bodies, k.signer)
		if err != nil {
			return err
		}
		if _, _, err := s.accept(env.Encode()); err != nil {
			return err
		}
	}
	return nil
}

// Status aggregates what the sites report of a workload in their clusters.
func (k kubeStore) Status(r fedsync.Ref) fedsync.Aggregate {
	s := k.s
	s.mu.Lock()
	defer s.mu.Unlock()
	var a fedsync.Aggregate
	ch := s.rep.Charter()
	num := func(f crdt.StatusFields, name string) int {
		n, _ := strconv.Atoi(string(f.Get(name)))
		return min(max(n, 0), crdt.MaxMaxReplicas)
	}
	prefix := r.Key + "/"
	s.rep.EachStatus(func(key string, f crdt.StatusFields) {
		if !strings.HasPrefix(key, prefix) {
			return
		}
		_, site, cluster, ok := splitStatus(key)
		if _, listed := ch.SiteByName(site); !ok || !listed {
			return
		}
		c := fedsync.ClusterStatus{Site: site, Cluster: cluster, Desired: num(f, "desired"), Ready: num(f, "ready"),
			Available: num(f, "available"), Updated: num(f, "updated"), Change: string(f.Get("generation")),
			Conditions: string(f.Get("conditions"))}
		if f.Get("active") != nil { // a Job's counts, from format level crdt.FormatJobs
			c.Job = &fedsync.JobCounts{Active: num(f, "active"), Succeeded: num(f, "succeeded"), Failed: num(f, "failed")}
		}
		if string(f.Get("reason")) == StatusRefused {
			c.Refused = string(f.Get("message"))
		}
		a.Clusters = append(a.Clusters, c)
	})
	slices.SortFunc(a.Clusters, func(x, y fedsync.ClusterStatus) int {
		return strings.Compare(x.Site+"/"+x.Cluster, y.Site+"/"+y.Cluster)
	})
	return a
}

func (k kubeStore) Changed() <-chan struct{} {
	k.s.mu.Lock()
	defer k.s.mu.Unlock()
	return k.s.arrived
}

// Grants are the charter's operators, as users of the Kubernetes API.
func (k kubeStore) Grants() []fedsync.Grant {
	s := k.s
	s.mu.Lock()
	ch := s.rep.Charter()
	s.mu.Unlock()
	// What the site's API stores is signed by its own operator: a user is granted only
	// the namespaces both have, so that a write the site could not store is refused at
	// once (403) rather than taken and refused later.
	var api []string
	apiScope := false
	if o := ch.Operators[k.signer.Public()]; o != nil {
		api, apiScope = o.Namespaces, o.ClusterScope
	}
	var out []fedsync.Grant
	for key, o := range ch.Operators {
		id, _ := charterIdentity(ch, key)
		if id.Role != RoleOperator { // a key with a stronger role is that role
			continue
		}
		if ns := intersectGrants(o.Namespaces, api); len(ns) > 0 {
			out = append(out, fedsync.Grant{User: KubeUser(id), Namespaces: ns, ClusterScope: o.ClusterScope && apiScope})
		}
	}
	slices.SortFunc(out, func(a, b fedsync.Grant) int { return strings.Compare(a.User, b.User) })
	return out
}

// ReaderGroups are the groups that read everything: observers, admins and sites.
func (kubeStore) ReaderGroups() []string {
	return []string{KubeGroup(RoleObserver), KubeGroup(RoleAdmin), KubeGroup(RoleSite)}
}

var (
	_ fedsync.Store       = kubeStore{}
	_ fedsync.StatusStore = kubeStore{}
	_ fedsync.GrantStore  = kubeStore{}
)

// intersectGrants returns the namespaces granted by both a and b, "*" meaning all.
func intersectGrants(a, b []string) []string {
	switch {
	case slices.Contains(a, "*"):
		return slices.Clone(b)
	case slices.Contains(b, "*"):
		return slices.Clone(a)
	}
	var out []string
	for _, ns := range a {
		if slices.Contains(b, ns) {
			out = append(out, ns)
		}
	}
	return out
}

package site

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"atoll/crdt"
)

// metrics is what GET /metrics serves, from a registry of the site's own (tests run
// several sites in one process). Events are counted as they happen only where no total
// exists already; everything else — the replica, peers, status, the activity counters
// and the transport's — is read when scraped, by siteCollector.
//
// No metric carries a constant site label: a scrape target is one site, and
// atoll_site_info names it (join on instance, or relabel at scrape time). That leaves
// the label site free for what is about other sites (atoll_replicas).
type metrics struct {
	reg       *prometheus.Registry
	applied   prometheus.Counter
	rejected  *prometheus.CounterVec
	reconcile prometheus.Histogram
	// reconcileErrors counts the reconcile passes that did not complete.
	reconcileErrors prometheus.Counter
	apply           *prometheus.HistogramVec
	refused         *prometheus.CounterVec
	// leaderships counts the times this replica became its site's leader.
	leaderships prometheus.Counter
	// statusRefreshes counts the status writes between passes (statusnow.go).
	statusRefreshes prometheus.Counter
	// view times viewLoop's views: a scheduling pass with explanations, and encoding.
	view prometheus.Histogram
}

func newMetrics(s *Site) *metrics {
	m := &metrics{
		reg: prometheus.NewRegistry(),
		applied: prometheus.NewCounter(prometheus.CounterOpts{Name: "atoll_changes_applied_total",
			Help: "Changes stored since the process started: written here, submitted, pushed or synced."}),
		rejected: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "atoll_changes_rejected_total",
			Help: "Changes the replica rejected, by reason (crdt.RejectReasons); a change sent again counts again."}, []string{"reason"}),
		reconcile: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "atoll_reconcile_duration_seconds",
			Help: "Duration of a reconcile pass: plan every workload, apply this site's share, prune, publish status.", Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30}}),
		reconcileErrors: prometheus.NewCounter(prometheus.CounterOpts{Name: "atoll_reconcile_errors_total",
			Help: "Reconcile passes that did not complete (a member client, namespace, apply, prune or status write failed), each retried with backoff."}),
		apply: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "atoll_apply_duration_seconds",
			Help:    "Duration of applying one object to a member cluster; an object unchanged since the last resync is answered from the informer cache, in well under a millisecond.",
			Buckets: []float64{.0001, .0005, .001, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}}, []string{"cluster"}),
	}
	m.statusRefreshes = prometheus.NewCounter(prometheus.CounterOpts{Name: "atoll_status_refreshes_total",
		Help: "Status writes between reconcile passes: a member cluster changed the status of objects Atoll applied (a Deployment became ready), reported without planning or applying."})
	m.leaderships = prometheus.NewCounter(prometheus.CounterOpts{Name: "atoll_leaderships_total",
		Help: "Times this replica of the site became its leader since the process started (a site of one replica: 0); it steps down in-process when it loses leadership."})
	m.view = prometheus.NewHistogram(prometheus.HistogramOpts{Name: "atoll_view_duration_seconds",
		Help:    "Duration of computing, encoding and compressing the view that streams and GET /v1/view serve (one scheduling pass over every workload, explained); readers never wait for it unless they ask ?fresh or ?after, and the next view waits twice as long.",
		Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30}})
	m.refused = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "atoll_workloads_refused_total",
		Help: "Refusals to run a workload here, by why (residency: the bound excludes this site; admission: the site's rules refuse what it would run; limit: a value above the charter's bounds); counted when first recorded or when its reason changes."}, []string{"why"})
	m.refused.WithLabelValues("residency")
	m.refused.WithLabelValues("admission")
	m.refused.WithLabelValues("limit")
	m.refused.WithLabelValues("policy")
	for _, r := range crdt.RejectReasons() {
		m.rejected.WithLabelValues(r) // every reason is exported, at 0 until it happens
	}
	m.reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		m.applied, m.rejected, m.reconcile, m.reconcileErrors, m.apply, m.refused, m.leaderships, m.view, m.statusRefreshes,
		siteCollector{s},
	)
	return m
}

// handler serves the registry in the Prometheus text (or OpenMetrics) format.
func (m *metrics) handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

// noteResult counts what one Receive (or Write) stored and rejected; stored is the number
// of new changes, not counting known changes whose bodies arrived.
func (m *metrics) noteResult(stored int, rejected []crdt.Rejection) {
	m.applied.Add(float64(stored))
	for _, r := range rejected {
		m.rejected.WithLabelValues(crdt.RejectReason(r.Err)).Inc()
	}
}

// observeSince observes the time from start to now in h.
func observeSince(h prometheus.Observer, start time.Time) { h.Observe(time.Since(start).Seconds()) }

// siteCollector reads the site's state at scrape time: it takes mu once, briefly, and
// does no scheduling pass.
type siteCollector struct{ s *Site }

var _ prometheus.Collector = siteCollector{}

var (
	descInfo = prometheus.NewDesc("atoll_site_info", "This site as the charter lists it; always 1.",
		[]string{"site", "region", "jurisdiction", "federation"}, nil)
	descHeld    = prometheus.NewDesc("atoll_changes_held", "Changes the replica holds.", nil, nil)
	descPending = prometheus.NewDesc("atoll_changes_pending", "Changes received that wait for their dependencies.", nil, nil)
	descFormat  = prometheus.NewDesc("atoll_format_level", "Format levels: the highest this release implements (release) and the charter's (charter); a charter above the release stops the site (docs/adr/0013).", []string{"of"}, nil)
	descBeyond  = prometheus.NewDesc("atoll_changes_beyond", "Changes held unjudged: they need a format level beyond this release.", nil, nil)
	descStable  = prometheus.NewDesc("atoll_changes_stable", "Changes held that every site has acknowledged (docs/adr/0010-soft-state.md): what compaction may shrink.", nil, nil)
	descSkel    = prometheus.NewDesc("atoll_changes_skeletons", "Changes held as skeletons: stable, every op shadowed by a later stable change, kept in memory as the little validation reads (docs/adr/0010-soft-state.md).", nil, nil)
	descVoid    = prometheus.NewDesc("atoll_changes_void", "Changes held without effect: signed by a key a charter change revoked, outside that change's past, or authorized only by a void charter change.", nil, nil)

	descPeerLive   = prometheus.NewDesc("atoll_peer_live", "1 if the membership reports the charter site live, else 0.", []string{"peer"}, nil)
	descPeerInSync = prometheus.NewDesc("atoll_peer_in_sync", "1 if the live peer advertises the same heads as this site, else 0.", []string{"peer"}, nil)
	descPeerLag    = prometheus.NewDesc("atoll_peer_lag_seconds",
		"How long a change the peer advertised has been missing here; 0 when none is. Only for live peers whose advertisement arrived.", []string{"peer"}, nil)

	descReplicas = prometheus.NewDesc("atoll_replicas", "Replicas each charter site reports for the workloads it runs, summed over its clusters.", []string{"site", "state"}, nil)
	descCluster  = prometheus.NewDesc("atoll_member_cluster_healthy", "1 if this site's member cluster is healthy as the site publishes it, else 0.", []string{"cluster"}, nil)

	descPush      = prometheus.NewDesc("atoll_push_changes_total", "Changes pushed to peers (out) and push frames received from them (in).", []string{"direction"}, nil)
	descForwarded = prometheus.NewDesc("atoll_push_forwarded_total", "Changes received from a peer and queued for other peers.", nil, nil)
	descDropped   = prometheus.NewDesc("atoll_push_dropped_total", "Changes not queued for a peer whose queue was full; anti-entropy repairs them.", nil, nil)
	descSessions  = prometheus.NewDesc("atoll_sync_sessions_total", "Anti-entropy sessions this site started (out) or answered (in).", []string{"direction"}, nil)
	descSessFails = prometheus.NewDesc("atoll_sync_session_failures_total", "Anti-entropy sessions that failed, either direction.", nil, nil)
	descSyncBytes = prometheus.NewDesc("atoll_sync_bytes_total", "Bytes of anti-entropy session messages, sent and received.", nil, nil)
	descSyncPay   = prometheus.NewDesc("atoll_sync_payload_bytes_total", "Bytes of changes carried by anti-entropy sessions, sent and received.", nil, nil)
	descSyncMsgs  = prometheus.NewDesc("atoll_sync_messages_total", "Anti-entropy session messages, sent and received.", nil, nil)
	descFlaps     = prometheus.NewDesc("atoll_membership_events_total", "Membership flaps seen by this site: peers it suspected (suspect), suspects it declared dead (dead), suspicions of itself it refuted (refute), peers memberlist reported gone, dead or left (lost).", []string{"event"}, nil)
	descRefused   = prometheus.NewDesc("atoll_peer_refused_total", "Peer traffic refused: over budget, too many sessions, or cut off after invalid changes.", nil, nil)

	descTransBytes   = prometheus.NewDesc("atoll_transport_bytes_total", "Bytes on the federation transport: UDP packets (overhead included) and TLS streams.", []string{"transport", "direction"}, nil)
	descTransPackets = prometheus.NewDesc("atoll_transport_packets_total", "UDP packets sent plus packets delivered.", nil, nil)
	descTransStreams = prometheus.NewDesc("atoll_transport_streams_total", "TLS streams established, dialed or accepted.", nil, nil)
	descTransRefused = prometheus.NewDesc("atoll_transport_refused_total", "Packets dropped on receipt, packet writes refused, streams refused or failed before they were established.", nil, nil)
	descTransLimited = prometheus.NewDesc("atoll_transport_streams_limited_total", "Inbound streams refused because a limit was reached: all streams, one peer's, or one peer's push streams.", nil, nil)
	descHTTPStreams  = prometheus.NewDesc("atoll_http_streams", "GET /v1/stream clients connected.", nil, nil)
	descHTTPRefused  = prometheus.NewDesc("atoll_http_streams_refused_total", "GET /v1/stream clients refused: httpLimits.maxStreams were open.", nil, nil)
	descUnbuffered   = prometheus.NewDesc("atoll_changes_unbuffered_total", "Changes whose dependencies were missing and whose author is not in the charter: neither buffered nor rejected.", nil, nil)

	descSoftHeld     = prometheus.NewDesc("atoll_soft_records", "Soft records held (clusters' health and capacity, status), and orphans waiting for their workload or cluster.", []string{"state"}, nil)
	descSoftRecords  = prometheus.NewDesc("atoll_soft_records_total", "Soft records this site wrote (out) and received, pushed or in soft sessions (in).", []string{"direction"}, nil)
	descSoftSessions = prometheus.NewDesc("atoll_soft_sessions_total", "Soft sessions this site took part in, either direction.", nil, nil)
	descSoftBytes    = prometheus.NewDesc("atoll_soft_session_bytes_total", "Bytes of soft session frames, sent and received.", nil, nil)
)

func (siteCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descInfo, descHeld, descPending, descFormat, descBeyond, descStable, descSkel, descVoid, descPeerLive, descPeerInSync, descPeerLag,
		descReplicas, descCluster, descPush, descForwarded, descDropped, descSessions, descSessFails,
		descSyncBytes, descSyncPay, descSyncMsgs, descFlaps, descRefused, descTransBytes, descTransPackets, descTransStreams, descTransRefused,
		descTransLimited, descHTTPStreams, descHTTPRefused, descUnbuffered, descSoftHeld, descSoftRecords, descSoftSessions, descSoftBytes} {
		ch <- d
	}
}

func (c siteCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.s
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	counter := func(d *prometheus.Desc, v uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	now := time.Now()
	live, _ := s.liveness() // takes mu
	s.mu.Lock()
	charter := s.rep.Charter()
	info, _ := charter.SiteByName(s.cfg.Name)
	held, pending, void := s.rep.Len(), s.rep.PendingLen(), s.rep.VoidLen()
	beyond, _ := s.rep.Beyond()
	stable, skel := s.rep.StableLen(), s.rep.SkeletonLen()
	softHeld, softOrphans := s.rep.SoftLen()
	heads := s.rep.Heads()
	type peerRow struct {
		name        string
		inSync, lag float64
		known       bool // advertisement received: lag is meaningful
	}
	var peers []peerRow
	sites := charter.SiteNames()
	for _, name := range sites {
		if name == s.cfg.Name {
			continue
		}
		row := peerRow{name: name}
		if p, ok := s.core.Sync(name); ok && p.HaveMeta && live[name] {
			inSync, lag := peerSync(p, heads, now)
			row.known, row.lag = true, lag
			if inSync {
				row.inSync = 1
			}
		}
		peers = append(peers, row)
	}
	desired, ready := s.replicasLocked(sites)
	clusters := map[string]bool{}
	for _, key := range s.rep.Keys(crdt.KindCluster, s.cfg.Name+"/") {
		v, _ := s.rep.Get(crdt.KindCluster, key, "health")
		clusters[strings.TrimPrefix(key, s.cfg.Name+"/")] = string(v.Bytes) == "healthy"
	}
	s.mu.Unlock()

	gauge(descInfo, 1, s.cfg.Name, info.Region, info.Jurisdiction, charter.Name)
	gauge(descHeld, float64(held))
	gauge(descPending, float64(pending))
	gauge(descFormat, crdt.MaxFormat, "release")
	gauge(descFormat, float64(charter.Format()), "charter")
	gauge(descBeyond, float64(beyond))
	gauge(descVoid, float64(void))
	gauge(descStable, float64(stable))
	gauge(descSkel, float64(skel))
	gauge(descSoftHeld, float64(softHeld), "held")
	gauge(descSoftHeld, float64(softOrphans), "orphan")
	for _, p := range peers {
		gauge(descPeerLive, b2f(live[p.name]), p.name)
		gauge(descPeerInSync, p.inSync, p.name)
		if p.known {
			gauge(descPeerLag, p.lag, p.name)
		}
	}
	for _, name := range sites {
		gauge(descReplicas, float64(desired[name]), name, "desired")
		gauge(descReplicas, float64(ready[name]), name, "ready")
	}
	for name, healthy := range clusters {
		gauge(descCluster, b2f(healthy), name)
	}

	n := &s.counter
	counter(descPush, n.pushedOut.Load(), "out")
	counter(descPush, n.pushedIn.Load(), "in")
	counter(descForwarded, n.forwarded.Load())
	counter(descDropped, n.dropped.Load())
	counter(descSessions, n.sessionsOut.Load(), "out")
	counter(descSessions, n.sessionsIn.Load(), "in")
	counter(descSessFails, n.sessionFails.Load())
	counter(descSyncBytes, n.syncBytes.Load())
	counter(descSyncPay, n.syncPayload.Load())
	counter(descSyncMsgs, n.syncMessages.Load())
	counter(descFlaps, n.suspects.Load(), "suspect")
	counter(descFlaps, n.deaths.Load(), "dead")
	counter(descFlaps, n.refutes.Load(), "refute")
	counter(descFlaps, n.peersLost.Load(), "lost")
	counter(descRefused, n.refusedFrames.Load())
	counter(descHTTPRefused, n.refusedStreams.Load())
	counter(descUnbuffered, n.unbuffered.Load())
	counter(descSoftRecords, n.softWritten.Load(), "out")
	counter(descSoftRecords, n.softIn.Load(), "in")
	counter(descSoftSessions, n.softSessions.Load())
	counter(descSoftBytes, n.softBytes.Load())
	gauge(descHTTPStreams, float64(s.streams.Load()))
	if s.trans != nil { // nil until Run
		t, _ := s.trans.Stats()
		counter(descTransBytes, t.PacketBytesIn, "packet", "in")
		counter(descTransBytes, t.PacketBytesOut, "packet", "out")
		counter(descTransBytes, t.StreamBytesIn, "stream", "in")
		counter(descTransBytes, t.StreamBytesOut, "stream", "out")
		counter(descTransPackets, t.Packets)
		counter(descTransStreams, t.Streams)
		counter(descTransRefused, t.Refused)
		counter(descTransLimited, t.Limited)
	}
}

// replicasLocked sums the replicas every site reports in its Status objects
// (namespace/name/site/cluster), by site; sites not in the list are left out. It reads
// two fields per object and parses no workload. mu must be held.
func (s *Site) replicasLocked(sites []string) (desired, ready map[string]int) {
	desired, ready = make(map[string]int, len(sites)), make(map[string]int, len(sites))
	for _, name := range sites {
		desired[name], ready[name] = 0, 0
	}
	s.rep.EachStatus(func(key string, obj crdt.StatusFields) {
		_, site, _, ok := splitStatus(key)
		if _, listed := desired[site]; !ok || !listed {
			return
		}
		n := func(f string) int { v, _ := strconv.Atoi(string(obj.Get(f))); return v }
		desired[site] += n("desired")
		ready[site] += n("ready")
	})
	return desired, ready
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

package kubeproc

import (
	"context"
	"log/slog"
	"strconv"
	"time"
)

// Etcd is how to run a single-member etcd on loopback.
type Etcd struct {
	Bin        string // path of the etcd binary
	Name       string // the member's name, for etcd and the logs
	DataDir    string // --data-dir; etcd creates it, or restarts from what it holds
	ClientPort int    // clients' port on 127.0.0.1 (plain HTTP)
	PeerPort   int    // the peer port on 127.0.0.1; a single member has no peers but etcd listens
	LogPath    string // etcd's output, appended
	PIDPath    string // where its PID is written
	// NoFsync runs etcd with --unsafe-no-fsync: faster, but what it stores may be lost or
	// corrupted if the machine stops. Only for data thrown away after the run.
	NoFsync bool
}

// URL is the client URL, http://127.0.0.1:ClientPort.
func (e Etcd) URL() string { return "http://127.0.0.1:" + strconv.Itoa(e.ClientPort) }

// Args are etcd's flags.
func (e Etcd) Args() []string {
	peer := "http://127.0.0.1:" + strconv.Itoa(e.PeerPort)
	args := []string{
		"--name=" + e.Name,
		"--data-dir=" + e.DataDir,
		"--listen-client-urls=" + e.URL(),
		"--advertise-client-urls=" + e.URL(),
		"--listen-peer-urls=" + peer,
		"--initial-advertise-peer-urls=" + peer,
		"--initial-cluster=" + e.Name + "=" + peer,
		"--initial-cluster-state=new",      // ignored when DataDir holds a member already
		"--quota-backend-bytes=8589934592", // 8 GiB, etcd's recommended maximum
		// One member and no peers: a short election timeout makes it leader, and ready, in
		// about 0.1 s instead of 1 s.
		"--heartbeat-interval=10",
		"--election-timeout=100",
		"--log-level=warn",
	}
	if e.NoFsync {
		args = append(args, "--unsafe-no-fsync=true")
	}
	return args
}

// Start starts etcd and waits until it is healthy (/health). The process is returned,
// to be stopped, whenever it started, even with an error.
func (e Etcd) Start(ctx context.Context, log *slog.Logger) (*Process, error) {
	p, err := Spawn(log, e.Name, e.LogPath, e.PIDPath, e.Bin, e.Args()...)
	if err != nil {
		return p, err
	}
	c, err := NewClient(e.URL(), nil, "")
	if err != nil {
		return p, err
	}
	defer c.Close()
	begin := time.Now()
	if err := WaitHealthy(ctx, p, c, "/health"); err != nil {
		return p, err
	}
	log.Info("etcd ready", "url", e.URL(), "pid", p.PID(), "fsync", !e.NoFsync, "took", time.Since(begin).Round(time.Millisecond))
	return p, nil
}

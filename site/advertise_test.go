package site

import (
	"context"
	"log/slog"
	"testing"
	"time"
)

// TestAdvertise: a site listening on every address (as in a pod) tells other sites the
// advertise address, not 0.0.0.0; a replica's own advertise wins over the site's.
func TestAdvertise(t *testing.T) {
	for _, tc := range []struct {
		name    string
		replica *ReplicaConfig
		want    string
	}{
		{"site", nil, "127.0.0.9:7999"},
		{"replica", &ReplicaConfig{ID: "r0", Peers: []ReplicaPeer{{ID: "r0", Address: "localhost:7946", Advertise: "127.0.0.8:7998"}}}, "127.0.0.8:7998"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			cfg := f.cfg
			cfg.Listen, cfg.Advertise, cfg.Replica = "0.0.0.0:0", "127.0.0.9:7999", tc.replica
			if err := cfg.Validate(); err != nil {
				t.Fatal(err)
			}
			if got := cfg.AdvertiseAddr(); got != tc.want {
				t.Fatalf("AdvertiseAddr %s, want %s", got, tc.want)
			}
			if tc.replica != nil {
				return // Raft needs its peers to elect a leader; the address is enough
			}
			s, err := Open(cfg, slog.New(slog.DiscardHandler))
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(t.Context())
			done := make(chan error, 1)
			go func() { done <- s.Run(ctx) }()
			defer func() {
				cancel()
				if err := <-done; err != nil {
					t.Error(err)
				}
			}()
			for !s.serving.Load() {
				select {
				case err := <-done:
					t.Fatalf("site stopped: %v", err)
				case <-time.After(10 * time.Millisecond):
				}
			}
			if got := s.ml.LocalNode().Address(); got != tc.want {
				t.Errorf("memberlist advertises %s, want %s", got, tc.want)
			}
		})
	}

	// Without advertise, listening on every address cannot run: nothing to tell peers.
	f := newFixture(t)
	f.cfg.Listen = "0.0.0.0:7946"
	if _, err := Open(f.cfg, slog.New(slog.DiscardHandler)); err == nil {
		t.Error("a site on 0.0.0.0 without advertise opened")
	}
}

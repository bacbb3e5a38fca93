package site

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"atoll/crdt"
)

// Event is one thing that happened, as this site saw it: for the dashboard and GET
// /v1/events. Events are not replicated; each site keeps its last maxEvents.
type Event struct {
	Seq     uint64    `json:"seq"`
	Time    time.Time `json:"time"`
	Kind    string    `json:"kind"`             // site, cluster, placement, change, residency, admission
	Object  string    `json:"object,omitempty"` // the site, cluster or workload concerned
	Message string    `json:"message"`
}

const maxEvents = 200

// eventLog is a ring of recent events. changed is closed and replaced on every event, so
// streams can wait for the next one.
type eventLog struct {
	mu      sync.Mutex
	ring    []Event
	seq     uint64
	changed chan struct{}
}

func newEventLog() *eventLog { return &eventLog{changed: make(chan struct{})} }

func (l *eventLog) add(kind, object, message string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.seq++
	e := Event{Seq: l.seq, Time: time.Now(), Kind: kind, Object: object, Message: message}
	if len(l.ring) < maxEvents {
		l.ring = append(l.ring, e)
	} else {
		l.ring[(l.seq-1)%maxEvents] = e
	}
	close(l.changed)
	l.changed = make(chan struct{})
}

// changedCh returns the channel closed by the next event.
func (l *eventLog) changedCh() <-chan struct{} {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.changed
}

// recent returns the events after seq, newest first, and the channel closed by the next.
func (l *eventLog) recent(after uint64) ([]Event, <-chan struct{}) {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make([]Event, 0, len(l.ring))
	for i := range len(l.ring) {
		e := l.ring[(l.seq-1-uint64(i))%uint64(len(l.ring))]
		if e.Seq <= after {
			break
		}
		out = append(out, e)
	}
	return out, l.changed
}

func because(reason string) string {
	if reason == "" {
		return ""
	}
	return " (" + reason + ")"
}

// noteChanges records an event for each charter or operator change among those just
// stored, naming the workloads it wrote or removed. mu must be held.
func (s *Site) noteChanges(stored []*crdt.Envelope) {
	ch := s.rep.Charter()
	for _, env := range stored {
		c := env.Change
		if c.IsCharter() {
			s.events.add("change", "charter", "the charter changed ("+env.ID.String()+")")
			continue
		}
		op := ch.Operators[c.Author]
		if op == nil {
			continue
		}
		var wrote, removed []string
		for _, o := range c.Ops {
			switch {
			case o.Kind != crdt.KindWorkload:
			case o.Type == crdt.OpRemove:
				removed = append(removed, o.Key)
			case !slices.Contains(wrote, o.Key):
				wrote = append(wrote, o.Key)
			}
		}
		var what []string
		if len(wrote) > 0 {
			what = append(what, "wrote "+strings.Join(wrote, ", "))
		}
		if len(removed) > 0 {
			what = append(what, "removed "+strings.Join(removed, ", "))
		}
		if len(what) > 0 {
			s.events.add("change", strings.Join(append(wrote, removed...), ","), fmt.Sprintf("operator %s %s (%s)", op.Name, strings.Join(what, "; "), env.ID))
		}
	}
}

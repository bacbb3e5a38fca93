package site

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"sync"
	"time"
)

// viewFrame is one computed View, encoded once for every reader.
type viewFrame struct {
	json    []byte          // the View as GET /v1/view serves it, newline-terminated
	seq     uint64          // grows whenever the view, apart from its time, changed
	at      time.Time       // when it was computed: it holds what was stored by then
	made    time.Time       // when it was published, computed and encoded
	arrived <-chan struct{} // the site's arrived channel then: closed once changes were stored since
	events  <-chan struct{} // the event log's channel then: closed once an event happened since
	view    View            // what json encodes; read-only

	making sync.Mutex // held while an entry of gz is made
	mu     sync.Mutex
	scoped map[string][]byte         // encodings of view filtered to a scope, by scopeName
	gz     map[string]compressedView // the encodings compressed, by scopeName ("" all)
}

// encoded returns the frame's bytes as an identity of scope sees them (scopeView),
// encoded once per distinct scope: there are at most as many as operators.
func (f *viewFrame) encoded(scope []string) []byte {
	if scope == nil {
		return f.json
	}
	name := scopeName(scope)
	f.mu.Lock()
	defer f.mu.Unlock()
	if b, ok := f.scoped[name]; ok {
		return b
	}
	b, err := json.Marshal(scopeView(f.view, scope))
	if err != nil {
		panic("site: a view that encoded once does not encode filtered: " + err.Error())
	}
	b = append(b, '\n')
	if f.scoped == nil {
		f.scoped = map[string][]byte{}
	}
	f.scoped[name] = b
	return b
}

// compressed returns encoded(scope) compressed (viewgzip.go), once per scope: by one
// reader, while the others wait for it rather than compress the same bytes again.
func (f *viewFrame) compressed(scope []string) compressedView {
	name := ""
	if scope != nil {
		name = scopeName(scope)
	}
	lookup := func() (compressedView, bool) {
		f.mu.Lock()
		defer f.mu.Unlock()
		c, ok := f.gz[name]
		return c, ok
	}
	if c, ok := lookup(); ok {
		return c
	}
	f.making.Lock()
	defer f.making.Unlock()
	if c, ok := lookup(); ok {
		return c
	}
	c := compressView(f.encoded(scope))
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.gz == nil {
		f.gz = map[string]compressedView{}
	}
	f.gz[name] = c
	return c
}

// fresh reports whether nothing happened since f was computed, and f is at most maxAge
// old.
func (f *viewFrame) fresh(now time.Time, maxAge time.Duration) bool {
	if f == nil || now.Sub(f.at) > maxAge {
		return false
	}
	select {
	case <-f.arrived:
		return false
	case <-f.events:
		return false
	default:
		return true
	}
}

// viewcast hands the views that viewLoop computes to the streams and to GET /v1/view.
// A subscriber is told that a newer view exists and reads the latest one: a slow one
// skips views, and never holds up the producer or the other subscribers. A reader is
// served the latest view at once, and waits for a newer one only when it asks to
// (fresh, after) or when nobody has read views for a while.
type viewcast struct {
	wake   chan struct{} // asks viewLoop for a view now
	maxAge time.Duration // a view is served again for this long if nothing happened (2*Tuning.ViewBeat)

	mu      sync.Mutex
	cur     *viewFrame
	subs    map[chan struct{}]struct{} // each of capacity 1: a newer view exists
	waiters []chan struct{}            // closed by the next view
}

func newViewcast(maxAge time.Duration) *viewcast {
	return &viewcast{wake: make(chan struct{}, 1), maxAge: maxAge, subs: map[chan struct{}]struct{}{}}
}

// latest returns the last view computed, nil before the first.
func (vc *viewcast) latest() *viewFrame {
	vc.mu.Lock()
	defer vc.mu.Unlock()
	return vc.cur
}

// current returns the latest view at once, and asks viewLoop for a newer one if anything
// happened since. It waits for the next view only before the first, or when the latest
// was published more than maxAge ago with no stream open: then nobody has asked for
// views for a while and the latest may be as old as that silence.
func (vc *viewcast) current(ctx context.Context) (*viewFrame, error) {
	start := time.Now()
	return vc.await(ctx, func(f *viewFrame, streams int) bool {
		return streams > 0 || start.Sub(f.made) <= vc.maxAge
	})
}

// get returns a view that holds everything stored before it was called: the last one if
// nothing happened since, else the next one viewLoop starts computing after the call.
func (vc *viewcast) get(ctx context.Context) (*viewFrame, error) {
	start := time.Now()
	return vc.await(ctx, func(f *viewFrame, _ int) bool {
		return !f.at.Before(start) || f.fresh(start, vc.maxAge)
	})
}

// await returns the latest view once ok holds for it, asking viewLoop for views until
// then; ok is called with mu held, with the number of open subscriptions.
func (vc *viewcast) await(ctx context.Context, ok func(f *viewFrame, streams int) bool) (*viewFrame, error) {
	for {
		vc.mu.Lock()
		if f := vc.cur; f != nil && ok(f, len(vc.subs)) {
			vc.mu.Unlock()
			if !f.fresh(time.Now(), vc.maxAge) {
				vc.kick()
			}
			return f, nil
		}
		ch := make(chan struct{})
		vc.waiters = append(vc.waiters, ch)
		vc.mu.Unlock()
		vc.kick()
		select {
		case <-ch:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// after returns the latest view once its sequence is beyond seq. It waits as a
// subscriber does: viewLoop computes views as things happen, not on its behalf.
func (vc *viewcast) after(ctx context.Context, seq uint64) (*viewFrame, error) {
	sub := vc.subscribe()
	defer vc.unsubscribe(sub)
	vc.kick()
	for {
		if f := vc.latest(); f != nil && f.seq > seq {
			return f, nil
		}
		select {
		case <-sub:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

func (vc *viewcast) kick() {
	select {
	case vc.wake <- struct{}{}:
	default:
	}
}

// subscribe returns a channel that receives whenever a newer view exists.
func (vc *viewcast) subscribe() chan struct{} {
	ch := make(chan struct{}, 1)
	vc.mu.Lock()
	vc.subs[ch] = struct{}{}
	vc.mu.Unlock()
	return ch
}

func (vc *viewcast) unsubscribe(ch chan struct{}) {
	vc.mu.Lock()
	delete(vc.subs, ch)
	vc.mu.Unlock()
}

// wanted reports whether anyone waits for views: open streams, or GET /v1/view callers.
func (vc *viewcast) wanted() bool {
	vc.mu.Lock()
	defer vc.mu.Unlock()
	return len(vc.subs) > 0 || len(vc.waiters) > 0
}

// publish makes f the latest view, releases the waiters and, if the view changed, tells
// every subscriber.
func (vc *viewcast) publish(f *viewFrame) {
	vc.mu.Lock()
	defer vc.mu.Unlock()
	f.made = time.Now()
	changed := vc.cur == nil || f.seq != vc.cur.seq
	vc.cur = f
	for _, ch := range vc.waiters {
		close(ch)
	}
	vc.waiters = nil
	if !changed {
		return
	}
	for ch := range vc.subs {
		select {
		case ch <- struct{}{}:
		default: // it has not read the last signal yet; it will read this view then
		}
	}
}

// viewLoop is the one producer of views: while streams are open or GET /v1/view waits,
// it computes the view when changes are stored, when an event happens, and every
// Tuning.ViewBeat, at most once per Tuning.ViewGap (and at most a third of the time), and
// encodes and compresses it once for every reader.
// A reader served a view older than what happened since asks it (wake) for one more.
func (s *Site) viewLoop(ctx context.Context) {
	defer s.wg.Done()
	beat := time.NewTicker(s.cfg.Tuning.ViewBeat)
	defer beat.Stop()
	var last [32]byte // hash of the last view encoded without its time
	var seq uint64
	var computed time.Time
	var took time.Duration // what the last view took to compute, encode and compress
	asked := false         // woken by a reader since the last view
	for {
		s.mu.Lock()
		arrived := s.arrived
		s.mu.Unlock()
		evs := s.events.changedCh()
		if asked || s.views.wanted() {
			asked = false
			// At most once per ViewGap, and never more than a third of a core: a view
			// that took d waits 2d after it (10,000 workloads: about 0.2-0.3 s each).
			if wait := max(s.cfg.Tuning.ViewGap, 3*took) - time.Since(computed); wait > 0 {
				select {
				case <-ctx.Done():
					return
				case <-time.After(wait):
				}
			}
			computed = time.Now()
			f, bare, err := s.encodeView(ctx, computed)
			if err == nil {
				f.compressed(nil) // before any reader asks: streams and GET /v1/view share it
				took = time.Since(computed)
				s.metrics.view.Observe(took.Seconds())
			}
			if ctx.Err() != nil {
				return
			}
			if err != nil {
				s.log.Error("encoding the view", "err", err)
			} else {
				if sum := sha256.Sum256(bare); seq == 0 || sum != last {
					seq++
					last = sum
				}
				f.seq, f.arrived, f.events = seq, arrived, evs
				s.views.publish(f)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-s.views.wake:
			asked = true
		case <-arrived:
		case <-evs:
		case <-beat.C:
		}
	}
}

// zeroAt is how the view's time is encoded when zero.
var zeroAt = []byte(`"at":"0001-01-01T00:00:00Z"`)

// encodeView computes the view at now and encodes it. bare is the encoding with a zero
// time, to tell whether anything but the time changed; the frame's bytes carry now, set
// in place of the zero time: the View's own "at" is the first, as its fields before it
// are strings, whose quotes JSON escapes.
func (s *Site) encodeView(ctx context.Context, now time.Time) (f *viewFrame, bare []byte, err error) {
	v, err := s.view(ctx, now)
	if err != nil {
		return nil, nil, err
	}
	full := v
	v.At = time.Time{}
	bare, err = json.Marshal(v)
	if err != nil {
		return nil, nil, err
	}
	at, err := json.Marshal(now)
	if err != nil {
		return nil, nil, err
	}
	i := bytes.Index(bare, zeroAt)
	if i < 0 {
		panic("site: the encoded view has no zero time")
	}
	out := make([]byte, 0, len(bare)+len(at)+1)
	out = append(out, bare[:i+len(`"at":`)]...)
	out = append(out, at...)
	out = append(out, bare[i+len(zeroAt):]...)
	out = append(out, '\n')
	return &viewFrame{json: out, at: now, view: full}, bare, nil
}

package site

import (
	"container/list"
	"crypto/sha256"
	"sync"
	"time"
)

// Server-side state of OpenID Connect sign-ins: sign-ins started and not yet called back
// (pendingLogins), and the sessions they open (signinStore). Both are bounded in number,
// oldest out first, and take the time as an argument.

// signin is a signed-in browser: its charter identity's name and what proved it.
type signin struct {
	name    string    // the charter identity, looked up again on every request
	subject string    // the OpenID subject
	by      string    // what mapped it: "subject ..." or "group ..."
	expires time.Time // min(ID token expiry, sign-in + SessionTTL)
}

// signinStore holds sessions by the SHA-256 of their id, so that the ids themselves
// are nowhere in memory but the browsers' cookies.
type signinStore struct {
	mu    sync.Mutex
	max   int
	order *list.List // of [32]byte, oldest at the back
	by    map[[32]byte]*list.Element
	vals  map[[32]byte]signin
}

func newSigninStore(max int) *signinStore {
	return &signinStore{max: max, order: list.New(), by: map[[32]byte]*list.Element{}, vals: map[[32]byte]signin{}}
}

// add stores s under id, evicting the oldest sessions beyond the bound.
func (st *signinStore) add(id string, s signin) {
	sum := sha256.Sum256([]byte(id))
	st.mu.Lock()
	defer st.mu.Unlock()
	st.by[sum] = st.order.PushFront(sum)
	st.vals[sum] = s
	for st.order.Len() > st.max {
		old := st.order.Remove(st.order.Back()).([32]byte)
		delete(st.by, old)
		delete(st.vals, old)
	}
}

// get returns the session id names, if it exists and has not expired at now.
func (st *signinStore) get(id string, now time.Time) (signin, bool) {
	sum := sha256.Sum256([]byte(id))
	st.mu.Lock()
	defer st.mu.Unlock()
	s, ok := st.vals[sum]
	if !ok {
		return signin{}, false
	}
	if !now.Before(s.expires) {
		st.order.Remove(st.by[sum])
		delete(st.by, sum)
		delete(st.vals, sum)
		return signin{}, false
	}
	return s, true
}

// remove ends the session id names.
func (st *signinStore) remove(id string) {
	sum := sha256.Sum256([]byte(id))
	st.mu.Lock()
	defer st.mu.Unlock()
	if e, ok := st.by[sum]; ok {
		st.order.Remove(e)
		delete(st.by, sum)
		delete(st.vals, sum)
	}
}

func (st *signinStore) len() int {
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.order.Len()
}

// pending is a sign-in sent to the provider, keyed by its state.
type pending struct {
	nonce    string
	verifier string // PKCE
	started  time.Time
	used     bool // called back once: a second callback is a replay
}

// pendingLogins holds sign-ins for ttl after they start, at most max (oldest out).
// A completed one stays, marked used, until it expires, so that a replayed callback is
// named as one.
type pendingLogins struct {
	mu    sync.Mutex
	max   int
	ttl   time.Duration
	order *list.List // of states, oldest at the back
	by    map[string]*list.Element
	vals  map[string]*pending
}

func newPendingLogins(max int, ttl time.Duration) *pendingLogins {
	return &pendingLogins{max: max, ttl: ttl, order: list.New(), by: map[string]*list.Element{}, vals: map[string]*pending{}}
}

func (p *pendingLogins) add(state string, v pending) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.by[state] = p.order.PushFront(state)
	p.vals[state] = &v
	for p.order.Len() > p.max {
		p.drop(p.order.Back().Value.(string))
	}
}

func (p *pendingLogins) drop(state string) {
	p.order.Remove(p.by[state])
	delete(p.by, state)
	delete(p.vals, state)
}

// Why take refuses a state.
const (
	pendingUnknown = iota + 1 // never started here, evicted, or the process restarted
	pendingExpired
	pendingUsed
)

// take returns the sign-in of state and marks it used; it refuses (with why) an
// unknown, expired or already used one.
func (p *pendingLogins) take(state string, now time.Time) (pending, int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	v, ok := p.vals[state]
	switch {
	case !ok:
		return pending{}, pendingUnknown
	case now.Sub(v.started) > p.ttl:
		p.drop(state)
		return pending{}, pendingExpired
	case v.used:
		return pending{}, pendingUsed
	}
	v.used = true
	return *v, 0
}

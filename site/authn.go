package site

import (
	"container/list"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"atoll/crdt"
	"atoll/site/token"
	"atoll/site/transport"
)

// Authentication of the HTTP server's callers. A caller proves a charter identity with a
// bearer token its key signed (site/token), the dashboard's cookie holding one, a TLS
// client certificate self-signed by its key, or a session of an OpenID Connect sign-in
// (oidc.go); authorize (authz.go) then decides. The unix
// socket's caller holds the data dir and is trusted (RoleLocal).

// cookieName is the dashboard's login cookie; it holds a token.
const cookieName = "atoll_token"

// Bounds of the authenticator.
const (
	tokenCacheSize = 4096 // verified tokens remembered, by hash
	failAddrs      = 4096 // remote addresses whose failures are counted apart
	failRate       = 10   // failed credentials per second from one address (burst failBurst)
	failBurst      = 40
	failAllRate    = 200 // failed credentials per second over all addresses (burst 2x)
)

// guard wraps a route's handler with the check of who may have res.
type guard func(res route, h http.HandlerFunc) http.HandlerFunc

// trusted is the socket's guard: its caller is the site's local operator.
func trusted(_ route, h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		h(w, withIdentity(r, Identity{Name: "local", Role: RoleLocal, Via: "socket"}))
	}
}

type identityKey struct{}

func withIdentity(r *http.Request, id Identity) *http.Request {
	return r.WithContext(context.WithValue(r.Context(), identityKey{}, id))
}

// identityOf returns who made r; anonymous if no guard said.
func identityOf(r *http.Request) Identity {
	if id, ok := r.Context().Value(identityKey{}).(Identity); ok {
		return id
	}
	return Identity{Role: RoleAnonymous, Via: "none"}
}

// scopeOf returns the namespaces r's caller may read, nil if all.
func scopeOf(r *http.Request) []string { return identityOf(r).scope() }

// authn authenticates the HTTP server's callers.
type authn struct {
	site    string
	charter func() *crdt.Charter // the current one
	now     func() time.Time
	log     *slog.Logger

	cache    *tokenCache
	fails    *failLimit
	logged   *rate.Limiter // refusals logged, at most 5 a second
	sessions *signinStore  // OpenID Connect sessions; nil without oidc
}

func newAuthn(site string, charter func() *crdt.Charter, log *slog.Logger) *authn {
	return &authn{site: site, charter: charter, now: time.Now, log: log,
		cache: newTokenCache(tokenCacheSize), fails: newFailLimit(), logged: rate.NewLimiter(5, 10)}
}

// credErr is a refused credential: 401, or 429 when too many failed.
type credErr struct {
	code int
	msg  string
	via  string
}

func (a *authn) guard(res route, h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if res == resPublic {
			h(w, r)
			return
		}
		id, cerr := a.identify(r)
		if cerr != nil {
			a.refuse(w, r, cerr)
			return
		}
		var kind crdt.Kind
		key := r.PathValue("key")
		switch res {
		case resObject:
			k, err := crdt.ParseKind(r.PathValue("kind"))
			if err != nil {
				h(w, withIdentity(r, id)) // the handler names the bad kind
				return
			}
			kind = k
		case resPlacement:
			key = r.PathValue("namespace") + "/" + r.PathValue("name")
		}
		if d := authorize(id, res, kind, key); !d.allowed() {
			if d.code == http.StatusUnauthorized {
				w.Header().Set("WWW-Authenticate", a.challenge(""))
			}
			writeErr(w, d.code, errors.New(d.msg))
			return
		}
		h(w, withIdentity(r, id))
	}
}

// challenge is the WWW-Authenticate header: the realm is the federation, which is also
// the audience a token needs; a refused credential says why.
func (a *authn) challenge(errCode string) string {
	c := fmt.Sprintf("Bearer realm=%q", a.charter().Name)
	if errCode != "" {
		c += `, error="` + errCode + `"`
	}
	return c
}

func (a *authn) refuse(w http.ResponseWriter, r *http.Request, e *credErr) {
	if a.logged.Allow() {
		a.log.Warn("refused credentials", "remote", r.RemoteAddr, "via", e.via, "path", r.URL.Path, "code", e.code, "err", e.msg)
	}
	if e.code == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", a.challenge("invalid_token"))
	}
	if e.via == "session" {
		clearCookie(w, r, sessionCookie) // dead: the browser may sign in again
	}
	writeErr(w, e.code, errors.New(e.msg))
}

// identify finds the identity r proves: a bearer token, else a client certificate, else
// (on reads) an OpenID Connect session, else the login cookie; anonymous if none. A credential that fails is an error,
// never a fallback to anonymous.
func (a *authn) identify(r *http.Request) (Identity, *credErr) {
	if h := r.Header.Get("Authorization"); h != "" {
		scheme, tok, _ := strings.Cut(h, " ")
		if !strings.EqualFold(scheme, "Bearer") {
			return Identity{}, &credErr{http.StatusUnauthorized, fmt.Sprintf("authorization scheme %q: want Bearer <token>", scheme), "header"}
		}
		return a.token(r, strings.TrimSpace(tok), "token")
	}
	if r.TLS != nil && len(r.TLS.PeerCertificates) > 0 {
		return a.certificate(r)
	}
	if r.Method == http.MethodGet || r.Method == http.MethodHead {
		if c, err := r.Cookie(sessionCookie); err == nil && c.Value != "" {
			return a.session(c.Value)
		}
		if c, err := r.Cookie(cookieName); err == nil && c.Value != "" {
			return a.token(r, c.Value, "cookie")
		}
	}
	return Identity{Role: RoleAnonymous, Via: "none"}, nil
}

// token verifies tok: its signature (once per token, then remembered by hash), its time
// and audience, and its key's role in the current charter (on every request).
func (a *authn) token(r *http.Request, tok, via string) (Identity, *credErr) {
	sum := sha256.Sum256([]byte(tok))
	c, key, ok := a.cache.get(sum)
	if !ok {
		if e := a.fails.check(r.RemoteAddr); e != nil {
			return Identity{}, e
		}
		var err error
		if c, key, err = token.Parse(tok); err != nil {
			return Identity{}, a.failed(r, via, err.Error())
		}
	}
	ch := a.charter()
	if err := token.Check(c, a.now(), ch.Name, ch.Name+"/"+a.site); err != nil {
		if errors.Is(err, token.ErrExpired) {
			return Identity{}, a.failed(r, via, err.Error()+": mint a new one (atoll token)")
		}
		return Identity{}, a.failed(r, via, err.Error())
	}
	id, known := charterIdentity(ch, crdt.PubKey(key))
	if !known {
		return Identity{}, a.failed(r, via, fmt.Sprintf("token key %s has no role in the charter of federation %q", c.Key, ch.Name))
	}
	if !ok {
		a.cache.add(sum, c, key)
	}
	id.Via, id.Expires = via, c.Expiry
	return id, nil
}

// session maps an OpenID Connect session to its identity, by name in the current
// charter. An unknown session costs one hash and a map lookup, so it is not counted as
// a failure: its 256-bit id cannot be guessed.
func (a *authn) session(sid string) (Identity, *credErr) {
	if a.sessions == nil {
		return Identity{}, &credErr{http.StatusUnauthorized, "OpenID Connect sign-ins are not enabled on this site: sign in with a token", "session"}
	}
	s, ok := a.sessions.get(sid, a.now())
	if !ok {
		return Identity{}, &credErr{http.StatusUnauthorized, "session unknown or expired (sessions end after their ID token, or when the site restarts): sign in again", "session"}
	}
	id, err := identityByName(a.charter(), s.name)
	if err != nil {
		return Identity{}, &credErr{http.StatusUnauthorized, fmt.Sprintf("the session of OpenID subject %q maps to %s: sign in again", s.subject, err), "session"}
	}
	id.Via, id.Expires, id.Subject = "oidc", s.expires.Unix(), s.subject
	return id, nil
}

// certificate maps a TLS client certificate's key to its charter identity.
func (a *authn) certificate(r *http.Request) (Identity, *credErr) {
	key, err := transport.CertKey(r.TLS.PeerCertificates)
	if err != nil {
		return Identity{}, a.failed(r, "certificate", "client certificate: "+err.Error())
	}
	ch := a.charter()
	id, ok := charterIdentity(ch, crdt.PubKey(key))
	if !ok {
		return Identity{}, a.failed(r, "certificate", fmt.Sprintf("client certificate key %s has no role in the charter of federation %q", FormatKey(crdt.PubKey(key)), ch.Name))
	}
	id.Via = "certificate"
	return id, nil
}

func (a *authn) failed(r *http.Request, via, msg string) *credErr {
	a.fails.note(r.RemoteAddr)
	return &credErr{http.StatusUnauthorized, msg, via}
}

// tokenCache remembers tokens that verified, by hash, least recently used first out.
type tokenCache struct {
	mu    sync.Mutex
	max   int
	order *list.List // of [32]byte, most recent at the front
	byKey map[[32]byte]*list.Element
	vals  map[[32]byte]cachedToken
}

type cachedToken struct {
	claims token.Claims
	key    []byte
}

func newTokenCache(max int) *tokenCache {
	return &tokenCache{max: max, order: list.New(), byKey: map[[32]byte]*list.Element{}, vals: map[[32]byte]cachedToken{}}
}

func (c *tokenCache) get(sum [32]byte) (token.Claims, []byte, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.byKey[sum]
	if !ok {
		return token.Claims{}, nil, false
	}
	c.order.MoveToFront(e)
	v := c.vals[sum]
	return v.claims, v.key, true
}

func (c *tokenCache) add(sum [32]byte, cl token.Claims, key []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.byKey[sum]; ok {
		return
	}
	c.byKey[sum] = c.order.PushFront(sum)
	c.vals[sum] = cachedToken{cl, key}
	for c.order.Len() > c.max {
		old := c.order.Remove(c.order.Back()).([32]byte)
		delete(c.byKey, old)
		delete(c.vals, old)
	}
}

// failLimit bounds the work spent on bad credentials: a token bucket of failures per
// remote address and one over all. Once a bucket is empty, credentials it covers that
// are not already verified are answered 429 without being checked.
type failLimit struct {
	mu    sync.Mutex
	all   *rate.Limiter
	order *list.List // of addresses, most recent at the front
	by    map[string]*list.Element
	lims  map[string]*rate.Limiter
}

func newFailLimit() *failLimit {
	return &failLimit{all: rate.NewLimiter(failAllRate, 2*failAllRate), order: list.New(), by: map[string]*list.Element{}, lims: map[string]*rate.Limiter{}}
}

// addrOf is the host of a remote address: failures are counted per host, not per port.
func addrOf(remote string) string {
	if h, _, err := net.SplitHostPort(remote); err == nil {
		return h
	}
	return remote
}

func (f *failLimit) limiter(addr string) *rate.Limiter {
	if e, ok := f.by[addr]; ok {
		f.order.MoveToFront(e)
		return f.lims[addr]
	}
	l := rate.NewLimiter(failRate, failBurst)
	f.by[addr], f.lims[addr] = f.order.PushFront(addr), l
	for f.order.Len() > failAddrs {
		old := f.order.Remove(f.order.Back()).(string)
		delete(f.by, old)
		delete(f.lims, old)
	}
	return l
}

// check refuses once the address's failures, or everyone's, used up their bucket.
func (f *failLimit) check(remote string) *credErr {
	addr := addrOf(remote)
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.limiter(addr).Tokens() < 1 {
		return &credErr{http.StatusTooManyRequests, fmt.Sprintf("too many failed credentials from %s; retry later", addr), "limit"}
	}
	if f.all.Tokens() < 1 {
		return &credErr{http.StatusTooManyRequests, "too many failed credentials; retry later", "limit"}
	}
	return nil
}

// note counts one failure.
func (f *failLimit) note(remote string) {
	addr := addrOf(remote)
	f.mu.Lock()
	defer f.mu.Unlock()
	f.limiter(addr).Allow()
	f.all.Allow()
}

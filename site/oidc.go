package site

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	htmltemplate "html/template"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"atoll/crdt"
)

// The dashboard's OpenID Connect sign-in (site.yaml `oidc:`). GET /v1/oidc/login sends
// the browser to the provider with a state, a nonce and a PKCE challenge kept here
// (pendingLogins) and the state in a cookie of this browser; GET /v1/oidc/callback takes
// the state once, exchanges the code with the PKCE verifier, verifies the ID token
// (issuer, audience, expiry and signature by go-oidc, the nonce here), maps its subject
// or groups to a charter identity by name (OIDCConfig.Identities) and opens a session:
// a random 256-bit id in an HttpOnly cookie, known to this process only (signinStore).
// authn reads the session on GET requests and looks its identity up in the current
// charter each time.

// Cookies of the OpenID Connect sign-in.
const (
	sessionCookie = "atoll_session"    // a session id
	stateCookie   = "atoll_oidc_state" // the state of the sign-in this browser started
)

// oidcTimeout bounds each request to the provider: discovery, keys, code exchange.
const oidcTimeout = 10 * time.Second

// oidcLogin runs sign-ins at one provider.
type oidcLogin struct {
	cfg    OIDCConfig
	secret string // the client secret, if the provider requires one
	a      *authn
	client *http.Client // to the provider
	pend   *pendingLogins

	mu       sync.Mutex // guards what discovery found, and when it last failed
	oauth    *oauth2.Config
	verifier *oidc.IDTokenVerifier
	failedAt time.Time
	failure  error
}

// newOIDCLogin prepares sign-ins at cfg's provider; the provider is asked for its
// configuration on the first sign-in, so that a site starts while its provider is down.
func newOIDCLogin(cfg OIDCConfig, secretFile string, a *authn) (*oidcLogin, error) {
	l := &oidcLogin{cfg: cfg, a: a, client: &http.Client{Timeout: oidcTimeout},
		pend: newPendingLogins(oidcPendingMax, oidcPendingTTL)}
	if secretFile != "" {
		b, err := os.ReadFile(secretFile)
		if err != nil {
			return nil, fmt.Errorf("oidc.clientSecretFile: %w", err)
		}
		l.secret = strings.TrimSpace(string(b))
	}
	return l, nil
}

// provider returns the OAuth 2 configuration and the ID token verifier, discovering them
// once; after a failure it answers the same failure for 5 seconds without asking again.
func (l *oidcLogin) provider(ctx context.Context) (*oauth2.Config, *oidc.IDTokenVerifier, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.oauth != nil {
		return l.oauth, l.verifier, nil
	}
	if l.failure != nil && l.a.now().Sub(l.failedAt) < 5*time.Second {
		return nil, nil, l.failure
	}
	ctx, cancel := context.WithTimeout(oidc.ClientContext(ctx, l.client), oidcTimeout)
	defer cancel()
	p, err := oidc.NewProvider(ctx, l.cfg.Issuer)
	if err != nil {
		l.failedAt, l.failure = l.a.now(), fmt.Errorf("OpenID provider %s: %w", l.cfg.Issuer, err)
		return nil, nil, l.failure
	}
	ep := p.Endpoint()
	if l.secret == "" {
		ep.AuthStyle = oauth2.AuthStyleInParams // a public client: its id in the form, no password
	}
	l.oauth = &oauth2.Config{ClientID: l.cfg.ClientID, ClientSecret: l.secret, Endpoint: ep,
		RedirectURL: l.cfg.RedirectURL, Scopes: l.cfg.scopes()}
	l.verifier = p.Verifier(&oidc.Config{ClientID: l.cfg.ClientID, Now: l.a.now})
	l.failure = nil
	return l.oauth, l.verifier, nil
}

// route adds GET /v1/oidc/login and GET /v1/oidc/callback: both public, the callback
// checks everything.
func (l *oidcLogin) route(mux *http.ServeMux) {
	mux.HandleFunc("GET /v1/oidc/login", l.handleLogin)
	mux.HandleFunc("GET /v1/oidc/callback", l.handleCallback)
}

// handleLogin starts a sign-in. Each start takes a token of authn's failure buckets, as
// a failed credential does: a host may start at most failRate sign-ins a second, so no
// single host can churn the bounded table of sign-ins in progress.
func (l *oidcLogin) handleLogin(w http.ResponseWriter, r *http.Request) {
	if e := l.a.fails.check(r.RemoteAddr); e != nil {
		signInPage(w, http.StatusTooManyRequests, "Too many sign-ins started from "+addrOf(r.RemoteAddr)+"; retry later.")
		return
	}
	l.a.fails.note(r.RemoteAddr)
	oc, _, err := l.provider(r.Context())
	if err != nil {
		l.a.log.Warn("oidc provider unavailable", "issuer", l.cfg.Issuer, "err", err)
		signInPage(w, http.StatusBadGateway, "The OpenID provider did not answer: "+err.Error())
		return
	}
	state, nonce, verifier := randomID(), randomID(), oauth2.GenerateVerifier()
	l.pend.add(state, pending{nonce: nonce, verifier: verifier, started: l.a.now()})
	http.SetCookie(w, &http.Cookie{Name: stateCookie, Value: state, Path: "/v1/oidc/", MaxAge: int(oidcPendingTTL.Seconds()),
		HttpOnly: true, Secure: r.TLS != nil, SameSite: http.SameSiteLaxMode}) // Lax: sent back on the provider's redirect
	http.Redirect(w, r, oc.AuthCodeURL(state, oidc.Nonce(nonce), oauth2.S256ChallengeOption(verifier)), http.StatusFound)
}

// handleCallback completes a sign-in. Every refusal is a page naming what was wrong, a
// log line, and a failure counted in authn's buckets; once a bucket is empty the
// callback is answered 429 before the provider is asked anything.
func (l *oidcLogin) handleCallback(w http.ResponseWriter, r *http.Request) {
	a := l.a
	if e := a.fails.check(r.RemoteAddr); e != nil {
		l.refuse(w, r, e.code, e.msg, "")
		return
	}
	fail := func(code int, msg, subject string) {
		a.fails.note(r.RemoteAddr)
		l.refuse(w, r, code, msg, subject)
	}
	q := r.URL.Query()
	state := q.Get("state")
	p, why := l.pend.take(state, a.now())
	switch why {
	case pendingUnknown:
		fail(http.StatusUnauthorized, "This sign-in is unknown here (not started at this site, or the site restarted): sign in again.", "")
		return
	case pendingExpired:
		fail(http.StatusUnauthorized, fmt.Sprintf("This sign-in expired (%s to complete it): sign in again.", oidcPendingTTL), "")
		return
	case pendingUsed:
		fail(http.StatusUnauthorized, "This sign-in was already completed: a callback works once (a replayed callback is refused). Sign in again.", "")
		return
	}
	if c, err := r.Cookie(stateCookie); err != nil || subtle.ConstantTimeCompare([]byte(c.Value), []byte(state)) != 1 {
		fail(http.StatusUnauthorized, "This sign-in was started in another browser: sign in again from this one.", "")
		return
	}
	if e := q.Get("error"); e != "" {
		fail(http.StatusUnauthorized, fmt.Sprintf("The OpenID provider refused the sign-in: %s %s", e, q.Get("error_description")), "")
		return
	}
	oc, verifier, err := l.provider(r.Context())
	if err != nil {
		l.refuse(w, r, http.StatusBadGateway, "The OpenID provider did not answer: "+err.Error(), "")
		return
	}
	ctx, cancel := context.WithTimeout(oidc.ClientContext(r.Context(), l.client), oidcTimeout)
	defer cancel()
	tok, err := oc.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(p.verifier))
	if err != nil {
		fail(http.StatusUnauthorized, "The OpenID provider did not accept the sign-in's code: "+err.Error(), "")
		return
	}
	raw, _ := tok.Extra("id_token").(string)
	if raw == "" {
		fail(http.StatusUnauthorized, "The OpenID provider sent no ID token (is the scope openid allowed for this client?).", "")
		return
	}
	idt, err := verifier.Verify(ctx, raw)
	if err != nil {
		var exp *oidc.TokenExpiredError
		if errors.As(err, &exp) {
			fail(http.StatusUnauthorized, fmt.Sprintf("The ID token expired at %s: sign in again.", exp.Expiry.UTC().Format(time.RFC3339)), "")
		} else {
			fail(http.StatusUnauthorized, "The ID token does not verify: "+err.Error(), "")
		}
		return
	}
	if subtle.ConstantTimeCompare([]byte(idt.Nonce), []byte(p.nonce)) != 1 {
		fail(http.StatusUnauthorized, "The ID token's nonce is not this sign-in's (a replayed token).", idt.Subject)
		return
	}
	var claims map[string]any
	if err := idt.Claims(&claims); err != nil {
		fail(http.StatusUnauthorized, "The ID token's claims do not parse: "+err.Error(), idt.Subject)
		return
	}
	if azp, _ := claims["azp"].(string); len(idt.Audience) > 1 && azp != l.cfg.ClientID {
		fail(http.StatusUnauthorized, fmt.Sprintf("The ID token was issued to client %q, not this site's %q.", azp, l.cfg.ClientID), idt.Subject)
		return
	}
	groups := claimStrings(claims[l.cfg.GroupsClaim])
	name, by := l.cfg.mapClaims(idt.Subject, groups)
	if name == "" {
		fail(http.StatusForbidden, fmt.Sprintf("OpenID subject %q of %s has no identity here: no entry of oidc.identities maps it or its groups %v. Ask the site's operators to map it to a charter identity.",
			idt.Subject, l.cfg.Issuer, groups), idt.Subject)
		return
	}
	id, err := identityByName(a.charter(), name)
	if err != nil {
		fail(http.StatusForbidden, fmt.Sprintf("OpenID subject %q maps (%s) to %s.", idt.Subject, by, err), idt.Subject)
		return
	}
	expires := a.now().Add(l.cfg.SessionTTL.D())
	if idt.Expiry.Before(expires) {
		expires = idt.Expiry
	}
	sid := randomID()
	a.sessions.add(sid, signin{name: name, subject: idt.Subject, by: by, expires: expires})
	a.log.Info("oidc sign-in", "remote", r.RemoteAddr, "subject", idt.Subject, "identity", id.Name, "role", id.Role, "by", by, "expires", expires.UTC().Format(time.RFC3339))
	http.SetCookie(w, &http.Cookie{Name: stateCookie, Value: "", Path: "/v1/oidc/", MaxAge: -1, HttpOnly: true, Secure: r.TLS != nil, SameSite: http.SameSiteLaxMode})
	http.SetCookie(w, &http.Cookie{Name: cookieName, Value: "", Path: "/", MaxAge: -1, HttpOnly: true, Secure: r.TLS != nil, SameSite: http.SameSiteStrictMode})
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: sid, Path: "/", Expires: expires,
		MaxAge: int(expires.Sub(a.now()).Seconds()) + 1, HttpOnly: true, Secure: r.TLS != nil, SameSite: http.SameSiteStrictMode})
	http.Redirect(w, r, "../../", http.StatusSeeOther) // the dashboard, wherever the site is mounted
}

// refuse answers a callback that failed with a page saying why, and logs it.
func (l *oidcLogin) refuse(w http.ResponseWriter, r *http.Request, code int, msg, subject string) {
	if l.a.logged.Allow() {
		l.a.log.Warn("refused oidc sign-in", "remote", r.RemoteAddr, "subject", subject, "code", code, "err", msg)
	}
	signInPage(w, code, msg)
}

// signInPageTmpl is the page a refused sign-in shows: text only, no script.
var signInPageTmpl = htmltemplate.Must(htmltemplate.New("p").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Atoll: sign-in refused</title></head>
<body><h1>Sign-in refused</h1><p id="reason" data-testid="reason">{{.}}</p><p><a href="../../">Back to the dashboard</a></p></body></html>
`))

func signInPage(w http.ResponseWriter, code int, msg string) {
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Security-Policy", "default-src 'none'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_ = signInPageTmpl.Execute(w, msg)
}

// claimStrings reads a groups claim: a list of strings, or one string.
func claimStrings(v any) []string {
	switch x := v.(type) {
	case string:
		return []string{x}
	case []any:
		out := make([]string, 0, len(x))
		for _, e := range x {
			if s, ok := e.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}

// randomID is 256 random bits in base64url.
func randomID() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // crypto/rand.Read never fails
	return base64.RawURLEncoding.EncodeToString(b)
}

// identityByName returns the operator or observer called name in ch. Admins and sites
// are refused: they sign changes with their keys, and a provider must not stand in for
// them. A name held by entries that disagree (an operator and an observer, or operators
// with different namespaces) is refused as ambiguous.
func identityByName(ch *crdt.Charter, name string) (Identity, error) {
	var found []Identity
	for k, n := range ch.Observers {
		if n == name {
			found = append(found, Identity{Name: n, Role: RoleObserver, Key: FormatKey(k)})
		}
	}
	for k, o := range ch.Operators {
		if o.Name == name {
			ns := slices.Clone(o.Namespaces)
			slices.Sort(ns)
			found = append(found, Identity{Name: o.Name, Role: RoleOperator, Namespaces: ns, Key: FormatKey(k)})
		}
	}
	if len(found) == 0 {
		for _, n := range ch.Admins {
			if n == name {
				return Identity{}, fmt.Errorf("admin %q: OpenID sign-ins map to operators and observers only", name)
			}
		}
		if _, ok := ch.SiteByName(name); ok {
			return Identity{}, fmt.Errorf("site %q: OpenID sign-ins map to operators and observers only", name)
		}
		return Identity{}, fmt.Errorf("identity %q, which is not an operator or observer in the charter of federation %q", name, ch.Name)
	}
	id := found[0]
	for _, o := range found[1:] {
		if o.Role != id.Role || !slices.Equal(o.Namespaces, id.Namespaces) {
			return Identity{}, fmt.Errorf("identity %q, which names several charter entries that differ", name)
		}
	}
	if len(found) > 1 {
		id.Key = "" // several keys share the name
	}
	return id, nil
}

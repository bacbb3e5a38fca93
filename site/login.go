package site

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"time"
)

// The dashboard's sign-in: a token pasted into the page becomes an HttpOnly cookie that
// authn reads on GET requests (EventSource sends it): the page's script holds the token
// only while sending it, and cannot read the cookie afterwards.

// LoginMethods answers GET /v1/login/methods: how the dashboard may sign in. Tokens
// always; OIDC when site.yaml has `oidc:`.
type LoginMethods struct {
	Token bool        `json:"token"`
	OIDC  *OIDCMethod `json:"oidc,omitempty"`
}

// OIDCMethod is an OpenID provider to sign in at: its issuer, and the path (relative to
// the dashboard) that starts a sign-in.
type OIDCMethod struct {
	Issuer string `json:"issuer"`
	Login  string `json:"login"`
}

// LoginRequest is the body of POST /v1/login.
type LoginRequest struct {
	Token string `json:"token"`
}

// routeLogin adds the dashboard's login: GET /v1/login/methods says how to sign in;
// POST /v1/login checks a token and sets it as an HttpOnly, SameSite=Strict cookie
// (Secure over TLS) that expires with it; POST /v1/logout clears it and ends an OpenID
// Connect session; GET /v1/whoami says who the caller is.
func (a *authn) routeLogin(mux *http.ServeMux, g guard, methods LoginMethods) {
	methods.Token = true
	mux.HandleFunc("GET /v1/login/methods", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, methods)
	})
	mux.HandleFunc("POST /v1/login", func(w http.ResponseWriter, r *http.Request) {
		// A form of another origin cannot send JSON without the browser asking first.
		if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
			writeErr(w, http.StatusUnsupportedMediaType, errors.New("login: want Content-Type application/json"))
			return
		}
		var req LoginRequest
		if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 8<<10)).Decode(&req); err != nil || req.Token == "" {
			writeErr(w, http.StatusBadRequest, errors.New(`login: want {"token": "..."} (atoll token)`))
			return
		}
		id, cerr := a.token(r, strings.TrimSpace(req.Token), "cookie")
		if cerr != nil {
			a.refuse(w, r, cerr)
			return
		}
		http.SetCookie(w, &http.Cookie{Name: cookieName, Value: strings.TrimSpace(req.Token), Path: "/",
			Expires: time.Unix(id.Expires, 0), MaxAge: int(time.Until(time.Unix(id.Expires, 0)).Seconds()) + 1,
			HttpOnly: true, Secure: r.TLS != nil, SameSite: http.SameSiteStrictMode})
		clearCookie(w, r, sessionCookie) // the token is who signs in now
		writeJSON(w, http.StatusOK, id)
	})
	mux.HandleFunc("POST /v1/logout", func(w http.ResponseWriter, r *http.Request) {
		if c, err := r.Cookie(sessionCookie); err == nil && a.sessions != nil {
			a.sessions.remove(c.Value)
		}
		clearCookie(w, r, cookieName)
		clearCookie(w, r, sessionCookie)
		writeJSON(w, http.StatusOK, map[string]bool{"loggedOut": true})
	})
	mux.HandleFunc("GET /v1/whoami", g(resFederation, handleWhoami))
}

func handleWhoami(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, identityOf(r))
}

// clearCookie tells the browser to forget the dashboard's cookie name.
func clearCookie(w http.ResponseWriter, r *http.Request, name string) {
	http.SetCookie(w, &http.Cookie{Name: name, Value: "", Path: "/", MaxAge: -1,
		HttpOnly: true, Secure: r.TLS != nil, SameSite: http.SameSiteStrictMode})
}

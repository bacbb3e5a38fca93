package site

import (
	"crypto/ed25519"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"

	"atoll/crdt"
)

const oidcYAML = minimal + `http: 127.0.0.1:8080
oidc:
  issuer: https://id.example.org
  clientID: atoll
  redirectURL: https://atoll.example.org/v1/oidc/callback
  identities:
  - {subject: "u-42", identity: shop-team}
  - {group: sre, identity: watch}
`

func TestOIDCConfig(t *testing.T) {
	c, err := LoadConfig(writeConfig(t, oidcYAML))
	if err != nil {
		t.Fatal(err)
	}
	before := *c.OIDC
	if err := c.Validate(); err != nil || !reflect.DeepEqual(before, *c.OIDC) {
		t.Fatalf("validate: %v, or it changed the config", err)
	}
	o := c.WithDefaults().OIDC
	if o.SessionTTL.D() != 8*time.Hour || o.MaxSessions != 4096 || o.GroupsClaim != "groups" ||
		!reflect.DeepEqual(o.scopes(), []string{"openid", "profile", "email", "groups"}) {
		t.Errorf("defaults: ttl %v max %d claim %q scopes %v", o.SessionTTL.D(), o.MaxSessions, o.GroupsClaim, o.scopes())
	}
	if !reflect.DeepEqual(before, *c.OIDC) {
		t.Errorf("WithDefaults changed the config's own OIDC section")
	}
	for _, tc := range []struct{ from, to, want string }{
		{"issuer: https://id.example.org", "issuer: http://id.example.org", "http only on a loopback address"},
		{"issuer: https://id.example.org", "issuer: id.example.org", "want an https URL"},
		{"clientID: atoll", "clientID: \"\"", "clientID is required"},
		{"redirectURL: https://atoll.example.org/v1/oidc/callback", "redirectURL: https://atoll.example.org/", "ending in /v1/oidc/callback"},
		{`{subject: "u-42", identity: shop-team}`, `{subject: "u-42", group: x, identity: shop-team}`, "one of subject or group"},
		{`{group: sre, identity: watch}`, `{group: sre}`, "identity (a charter operator or observer name) is required"},
		{`{group: sre, identity: watch}`, `{subject: "u-42", identity: watch}`, `subject u-42 mapped twice`},
		{"  identities:", "  sessionTTL: 48h\n  identities:", "at most 24h"},
		{"  identities:", "  scopes: [\"a b\"]\n  identities:", "is not one scope"},
		{"  identities:", "  colour: blue\n  identities:", `unknown field "colour"`},
		{"http: 127.0.0.1:8080\n", "", "oidc needs http"},
	} {
		body := strings.Replace(oidcYAML, tc.from, tc.to, 1)
		if _, err := LoadConfig(writeConfig(t, body)); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q -> %q: %v, want %q", tc.from, tc.to, err, tc.want)
		}
	}
	// http on loopback is for tests.
	if _, err := LoadConfig(writeConfig(t, strings.Replace(oidcYAML, "https://id.example.org", "http://127.0.0.1:5556/", 1))); err != nil {
		t.Errorf("loopback issuer: %v", err)
	}
}

// A subject's entry wins over groups; among groups the first listed wins.
func TestOIDCMapClaims(t *testing.T) {
	c := OIDCConfig{Identities: []OIDCIdentity{{Group: "ops", Identity: "watch"}, {Group: "sre", Identity: "sre-team"},
		{Subject: "u-1", Identity: "shop-team"}}}
	for _, tc := range []struct {
		sub      string
		groups   []string
		name, by string
	}{
		{"u-1", []string{"ops"}, "shop-team", "subject u-1"},
		{"u-2", []string{"sre", "ops"}, "watch", "group ops"},
		{"u-2", []string{"sre"}, "sre-team", "group sre"},
		{"u-2", []string{"dev"}, "", ""},
		{"u-2", nil, "", ""},
	} {
		if name, by := c.mapClaims(tc.sub, tc.groups); name != tc.name || by != tc.by {
			t.Errorf("%s %v: %q by %q, want %q by %q", tc.sub, tc.groups, name, by, tc.name, tc.by)
		}
	}
	if got := claimStrings([]any{"a", 1, "b"}); !reflect.DeepEqual(got, []string{"a", "b"}) {
		t.Errorf("claimStrings list: %v", got)
	}
	if got := claimStrings("a"); !reflect.DeepEqual(got, []string{"a"}) {
		t.Errorf("claimStrings string: %v", got)
	}
}

func oidcCharter() *crdt.Charter {
	k := func(b byte) crdt.PubKey {
		return crdt.PubKey(ed25519.NewKeyFromSeed([]byte(strings.Repeat(string(rune(b)), 32))).Public().(ed25519.PublicKey))
	}
	return &crdt.Charter{Name: "acme", Admins: map[crdt.PubKey]string{k('a'): "root"}, Sites: map[crdt.PubKey]*crdt.SiteInfo{},
		Operators: map[crdt.PubKey]*crdt.OperatorInfo{k('s'): {Name: "shop-team", Namespaces: []string{"web", "shop"}},
			k('t'): {Name: "twins", Namespaces: []string{"a"}}, k('u'): {Name: "twins", Namespaces: []string{"b"}}},
		Observers: map[crdt.PubKey]string{k('w'): "watch"}}
}

func TestIdentityByName(t *testing.T) {
	ch := oidcCharter()
	for _, tc := range []struct{ name, role, ns, err string }{
		{"shop-team", "operator", "shop,web", ""},
		{"watch", "observer", "", ""},
		{"root", "", "", `admin "root": OpenID sign-ins map to operators and observers only`},
		{"nobody", "", "", `identity "nobody", which is not an operator or observer in the charter of federation "acme"`},
		{"twins", "", "", "several charter entries that differ"},
	} {
		id, err := identityByName(ch, tc.name)
		if tc.err != "" {
			if err == nil || err.Error() != tc.err && !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%s: %v, want %q", tc.name, err, tc.err)
			}
			continue
		}
		if err != nil || string(id.Role) != tc.role || strings.Join(id.Namespaces, ",") != tc.ns || id.Key == "" {
			t.Errorf("%s: %+v %v", tc.name, id, err)
		}
	}
}

func TestSessionStore(t *testing.T) {
	now := time.Unix(1_000_000, 0)
	st := newSigninStore(2)
	st.add("a", signin{name: "watch", expires: now.Add(time.Hour)})
	st.add("b", signin{name: "watch", expires: now.Add(time.Minute)})
	if _, ok := st.get("b", now.Add(time.Minute)); ok {
		t.Error("a session is valid at its expiry")
	}
	if st.len() != 1 {
		t.Errorf("an expired session is kept: %d", st.len())
	}
	st.add("c", signin{name: "watch", expires: now.Add(time.Hour)})
	st.add("d", signin{name: "watch", expires: now.Add(time.Hour)})
	if _, ok := st.get("a", now); ok || st.len() != 2 {
		t.Errorf("the oldest session is not evicted past the bound: %d held", st.len())
	}
	st.remove("c")
	if _, ok := st.get("c", now); ok {
		t.Error("a removed session is valid")
	}
	if _, ok := st.get("d", now); !ok {
		t.Error("session d lost")
	}
}

func TestPendingLogins(t *testing.T) {
	now := time.Unix(1_000_000, 0)
	p := newPendingLogins(2, 10*time.Minute)
	p.add("s1", pending{nonce: "n1", started: now})
	if v, why := p.take("s1", now.Add(time.Minute)); why != 0 || v.nonce != "n1" {
		t.Fatalf("take: %+v %d", v, why)
	}
	if _, why := p.take("s1", now.Add(time.Minute)); why != pendingUsed {
		t.Errorf("a replayed state: %d, want used", why)
	}
	p.add("s2", pending{started: now})
	if _, why := p.take("s2", now.Add(11*time.Minute)); why != pendingExpired {
		t.Errorf("an old state: %d, want expired", why)
	}
	p.add("s3", pending{started: now})
	p.add("s4", pending{started: now})
	p.add("s5", pending{started: now})
	if _, why := p.take("s3", now); why != pendingUnknown {
		t.Errorf("past the bound the oldest goes: %d", why)
	}
	if _, why := p.take("nope", now); why != pendingUnknown {
		t.Errorf("an unknown state: %d", why)
	}
}

// oidcServer serves whoami and the login routes with sessions, and a callback whose
// provider is never reached (the refusals tested here come first).
func oidcServer(t *testing.T, ch *crdt.Charter) (*httptest.Server, *authn, *oidcLogin) {
	t.Helper()
	a := newAuthn("s00", func() *crdt.Charter { return ch }, slog.New(slog.DiscardHandler))
	a.sessions = newSigninStore(8)
	l, err := newOIDCLogin(OIDCConfig{Issuer: "http://127.0.0.1:1/", ClientID: "atoll"}, "", a)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	l.route(mux)
	a.routeLogin(mux, a.guard, LoginMethods{OIDC: &OIDCMethod{Issuer: "http://127.0.0.1:1/", Login: "v1/oidc/login"}})
	mux.HandleFunc("GET /v1/view", a.guard(resScoped, handleWhoami))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv, a, l
}

func TestAuthnSession(t *testing.T) {
	ch := oidcCharter()
	srv, a, _ := oidcServer(t, ch)
	now := time.Now()
	a.sessions.add("live", signin{name: "shop-team", subject: "u-42", expires: now.Add(time.Hour)})
	a.sessions.add("gone", signin{name: "left", subject: "u-43", expires: now.Add(time.Hour)})
	a.sessions.add("old", signin{name: "watch", subject: "u-44", expires: now.Add(-time.Second)})
	cookie := func(v string) *http.Cookie { return &http.Cookie{Name: sessionCookie, Value: v} }
	for _, tc := range []struct {
		name, sid string
		code      int
		says      string
	}{
		{"session", "live", 200, `"via":"oidc"`},
		{"subject", "live", 200, `"subject":"u-42"`},
		{"removed identity", "gone", 401, `u-43\" maps to identity \"left\", which is not an operator or observer`},
		{"expired", "old", 401, "session unknown or expired"},
		{"unknown", "guess", 401, "session unknown or expired"},
	} {
		code, body, h := get(t, srv.URL+"/v1/view", "", cookie(tc.sid))
		if code != tc.code || !strings.Contains(body, tc.says) {
			t.Errorf("%s: %d %s, want %d saying %q", tc.name, code, body, tc.code, tc.says)
		}
		if code == 401 && !strings.Contains(h.Get("Set-Cookie"), sessionCookie+"=;") {
			t.Errorf("%s: a dead session's cookie is not cleared: %q", tc.name, h.Get("Set-Cookie"))
		}
	}
	// An identity removed from the charter loses access at once.
	for k, o := range ch.Operators {
		if o.Name == "shop-team" {
			delete(ch.Operators, k)
		}
	}
	if code, body, _ := get(t, srv.URL+"/v1/view", "", cookie("live")); code != 401 {
		t.Errorf("after shop-team left the charter: %d %s", code, body)
	}
	code, body, _ := get(t, srv.URL+"/v1/login/methods", "")
	if code != 200 || body != `{"token":true,"oidc":{"issuer":"http://127.0.0.1:1/","login":"v1/oidc/login"}}`+"\n" {
		t.Errorf("methods: %d %s", code, body)
	}
	// Logout ends the session at the server, not only in the browser.
	a.sessions.add("bye", signin{name: "watch", expires: now.Add(time.Hour)})
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, srv.URL+"/v1/logout", nil)
	req.AddCookie(cookie("bye"))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if _, ok := a.sessions.get("bye", now); ok {
		t.Error("logout left the session")
	}
}

// TestOIDCCallbackRefusals: callbacks with unknown, replayed or foreign states are
// refused with a page saying why, before the provider is asked anything, and count as
// failures: a flood of them from one host is answered 429.
func TestOIDCCallbackRefusals(t *testing.T) {
	srv, _, l := oidcServer(t, oidcCharter())
	// A state started in another browser (no cookie, or another state's) is refused,
	// and used up: the callback cannot be tried again with the right cookie.
	l.pend.add("mine", pending{started: time.Now()})
	code, body, _ := get(t, srv.URL+"/v1/oidc/callback?state=mine&code=x", "", &http.Cookie{Name: stateCookie, Value: "theirs"})
	if code != 401 || !strings.Contains(body, "started in another browser") {
		t.Errorf("foreign state: %d %s", code, body)
	}
	code, body, _ = get(t, srv.URL+"/v1/oidc/callback?state=mine&code=x", "", &http.Cookie{Name: stateCookie, Value: "mine"})
	if code != 401 || !strings.Contains(body, "already completed") {
		t.Errorf("replayed state: %d %s", code, body)
	}
	var h http.Header
	code, body, h = get(t, srv.URL+"/v1/oidc/callback?state=nope&code=x", "")
	if code != 401 || !strings.Contains(body, "This sign-in is unknown here") || h.Get("Content-Security-Policy") != "default-src 'none'" {
		t.Errorf("unknown state: %d %s %v", code, body, h)
	}
	n := 3
	for ; n < 200; n++ {
		code, body, _ = get(t, srv.URL+fmt.Sprintf("/v1/oidc/callback?state=s%d&code=x", n), "")
		if code == 429 {
			break
		}
	}
	if code != 429 || n > failBurst+1 || !strings.Contains(body, "too many failed credentials") {
		t.Errorf("after %d bad callbacks: %d %s; want 429 within the burst of %d", n, code, body, failBurst)
	}
}

// Starting sign-ins is bounded per host: past the failure bucket's burst, 429 before the
// provider is asked anything, so one host cannot churn the sign-ins in progress.
func TestOIDCLoginStartsBounded(t *testing.T) {
	srv, _, _ := oidcServer(t, oidcCharter())
	code, n := 0, 0
	for ; n < 200; n++ {
		code, _, _ = get(t, srv.URL+"/v1/oidc/login", "")
		if code == http.StatusTooManyRequests {
			break
		}
	}
	if code != http.StatusTooManyRequests || n > failBurst+1 {
		t.Fatalf("after %d sign-ins started: %d; want 429 within the burst of %d", n, code, failBurst)
	}
}

package site

import (
	"crypto/ed25519"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"atoll/crdt"
	"atoll/site/token"
)

// authServer serves a guarded echo of the caller's identity at /v1/view and the login
// routes, for a charter with operator shop-team and observer watch.
func authServer(t *testing.T) (srv *httptest.Server, shop, watch, stranger ed25519.PrivateKey) {
	t.Helper()
	key := func(b byte) ed25519.PrivateKey {
		return ed25519.NewKeyFromSeed([]byte(strings.Repeat(string(rune(b)), 32)))
	}
	shop, watch, stranger = key('s'), key('w'), key('x')
	pub := func(k ed25519.PrivateKey) crdt.PubKey { return crdt.PubKey(k.Public().(ed25519.PublicKey)) }
	ch := &crdt.Charter{Name: "acme", Admins: map[crdt.PubKey]string{}, Sites: map[crdt.PubKey]*crdt.SiteInfo{},
		Operators: map[crdt.PubKey]*crdt.OperatorInfo{pub(shop): {Name: "shop-team", Namespaces: []string{"shop"}}},
		Observers: map[crdt.PubKey]string{pub(watch): "watch"}}
	a := newAuthn("s00", func() *crdt.Charter { return ch }, slog.New(slog.DiscardHandler))
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/view", a.guard(resScoped, handleWhoami))
	mux.HandleFunc("GET /metrics", a.guard(resMetrics, handleWhoami))
	a.routeLogin(mux, a.guard, LoginMethods{})
	srv = httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv, shop, watch, stranger
}

func get(t *testing.T, url, auth string, cookies ...*http.Cookie) (int, string, http.Header) {
	t.Helper()
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, url, nil)
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	for _, c := range cookies {
		req.AddCookie(c)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), resp.Header
}

func TestAuthnCredentials(t *testing.T) {
	srv, shop, watch, stranger := authServer(t)
	now := time.Now()
	mint := func(k ed25519.PrivateKey, aud string, iat time.Time, ttl time.Duration) string {
		tok, err := token.Mint(k, token.Claims{Audience: aud, IssuedAt: iat.Unix(), Expiry: iat.Add(ttl).Unix(), ID: "t"})
		if err != nil {
			t.Fatal(err)
		}
		return "Bearer " + tok
	}
	for _, tc := range []struct {
		name, auth, path string
		code             int
		says             string
	}{
		{"anonymous", "", "/v1/view", 401, "authentication required"},
		{"operator", mint(shop, "acme", now, time.Hour), "/v1/view", 200, `"shop-team"`},
		{"site audience", mint(shop, "acme/s00", now, time.Hour), "/v1/view", 200, `"shop-team"`},
		{"operator metrics", mint(shop, "acme", now, time.Hour), "/metrics", 403, "may not read /metrics"},
		{"observer metrics", mint(watch, "acme", now, time.Hour), "/metrics", 200, `"observer"`},
		{"other federation", mint(shop, "other", now, time.Hour), "/v1/view", 401, "another audience"},
		{"other site", mint(shop, "acme/s01", now, time.Hour), "/v1/view", 401, "another audience"},
		{"expired", mint(shop, "acme", now.Add(-2*time.Hour), time.Hour), "/v1/view", 401, "token expired"},
		{"too long", mint(shop, "acme", now, 48*time.Hour), "/v1/view", 401, "lifetime too long"},
		{"unknown key", mint(stranger, "acme", now, time.Hour), "/v1/view", 401, "has no role in the charter"},
		{"malformed", "Bearer nonsense", "/v1/view", 401, "malformed token"},
		{"basic", "Basic dXNlcjpwYXNz", "/v1/view", 401, "want Bearer"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, body, h := get(t, srv.URL+tc.path, tc.auth)
			if code != tc.code || !strings.Contains(body, tc.says) {
				t.Fatalf("%d %s, want %d saying %q", code, body, tc.code, tc.says)
			}
			if code == 401 && !strings.HasPrefix(h.Get("WWW-Authenticate"), `Bearer realm="acme"`) {
				t.Fatalf("401 without the challenge: %q", h.Get("WWW-Authenticate"))
			}
		})
	}
}

// TestAuthnFloodBounded: bad credentials from one address are answered 429, unchecked,
// once its bucket is empty; a token already verified keeps working.
func TestAuthnFloodBounded(t *testing.T) {
	srv, shop, _, stranger := authServer(t)
	good, _ := MintToken(shop, "acme", time.Now(), time.Hour)
	if code, body, _ := get(t, srv.URL+"/v1/view", "Bearer "+good); code != 200 {
		t.Fatalf("good token: %d %s", code, body)
	}
	codes := map[int]int{}
	for range 3 * failBurst {
		bad, _ := MintToken(stranger, "acme", time.Now(), time.Hour)
		code, _, _ := get(t, srv.URL+"/v1/view", "Bearer "+bad)
		codes[code]++
	}
	if codes[401] > failBurst+5 || codes[429] < failBurst {
		t.Fatalf("answers to %d bad tokens: %v, want about %d 401s then 429s", 3*failBurst, codes, failBurst)
	}
	if code, body, _ := get(t, srv.URL+"/v1/view", "Bearer "+good); code != 200 {
		t.Fatalf("verified token during the flood: %d %s", code, body)
	}
}

func TestLoginCookie(t *testing.T) {
	srv, shop, _, _ := authServer(t)
	tok, _ := MintToken(shop, "acme", time.Now(), time.Hour)
	body, _ := json.Marshal(LoginRequest{Token: tok})
	resp, err := http.Post(srv.URL+"/v1/login", "application/json", strings.NewReader(string(body)))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	var c *http.Cookie
	for _, x := range resp.Cookies() {
		if x.Name == cookieName {
			c = x
		}
	}
	if resp.StatusCode != 200 || c == nil || !c.HttpOnly || c.SameSite != http.SameSiteStrictMode || c.MaxAge <= 0 || c.MaxAge > 3601 {
		t.Fatalf("login: %s, cookie %+v", resp.Status, c)
	}
	if code, body, _ := get(t, srv.URL+"/v1/whoami", "", c); code != 200 || !strings.Contains(body, `"cookie"`) {
		t.Fatalf("whoami with the cookie: %d %s", code, body)
	}
	if resp, _ := http.Post(srv.URL+"/v1/login", "text/plain", strings.NewReader(string(body))); resp.StatusCode != http.StatusUnsupportedMediaType {
		t.Fatalf("login from a form: %s", resp.Status)
	}
}

// TestClientLearnsAudience: a Client with a key and no audience takes the realm from the
// site's challenge and mints for it.
func TestClientLearnsAudience(t *testing.T) {
	srv, shop, _, _ := authServer(t)
	c, err := NewHTTPClientAuth(srv.URL, HTTPAuth{Key: shop})
	if err != nil {
		t.Fatal(err)
	}
	id, err := c.Whoami(t.Context())
	if err != nil || id.Name != "shop-team" || id.Role != RoleOperator {
		t.Fatalf("whoami: %+v %v", id, err)
	}
	anon, _ := NewHTTPClient(srv.URL)
	if _, err := anon.Whoami(t.Context()); err == nil || !strings.Contains(err.Error(), "authentication required") {
		t.Fatalf("anonymous whoami: %v", err)
	}
}

package site

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"sync"
	"time"

	"atoll/site/token"
	"atoll/site/transport"
)

// HTTPAuth is how a Client proves a charter identity to a site's HTTP server: bearer
// tokens its key mints, or a client certificate made from the key.
type HTTPAuth struct {
	// Key is the identity's private key; nil: anonymous (health only).
	Key ed25519.PrivateKey
	// Certificate presents a self-signed client certificate of Key (https only) instead
	// of minting tokens.
	Certificate bool
	// Audience of the tokens: the federation's name, or "<federation>/<site>". Empty:
	// the realm the site names when it asks for credentials (WWW-Authenticate).
	Audience string
	// TTL of each minted token (default DefaultTokenTTL); a new one is minted a minute
	// before it expires.
	TTL time.Duration
	// CA is PEM: the certificates the site's HTTPS certificate must chain to (its own
	// self-signed certificate will do). Empty: the system's roots.
	CA []byte
}

// DefaultTokenTTL is the lifetime of the tokens a Client mints.
const DefaultTokenTTL = 10 * time.Minute

// MintToken mints a token of key for audience, valid from now for ttl.
func MintToken(key ed25519.PrivateKey, audience string, now time.Time, ttl time.Duration) (string, error) {
	var id [12]byte
	if _, err := rand.Read(id[:]); err != nil {
		return "", err
	}
	return token.Mint(key, token.Claims{Audience: audience, IssuedAt: now.Unix(), Expiry: now.Add(ttl).Unix(), ID: hex.EncodeToString(id[:])})
}

// tokenSource mints the client's tokens and renews them before they expire.
type tokenSource struct {
	key ed25519.PrivateKey
	ttl time.Duration

	mu       sync.Mutex
	audience string
	tok      string
	exp      time.Time
}

// get returns a current token, "" while the audience is unknown.
func (ts *tokenSource) get() (string, error) {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	if ts.audience == "" {
		return "", nil
	}
	now := time.Now()
	if ts.tok == "" || now.Add(time.Minute).After(ts.exp) {
		tok, err := MintToken(ts.key, ts.audience, now, ts.ttl)
		if err != nil {
			return "", err
		}
		ts.tok, ts.exp = tok, now.Add(ts.ttl)
	}
	return ts.tok, nil
}

var realmRE = regexp.MustCompile(`^Bearer realm="([^"]+)"`)

// learn takes the audience from a 401's challenge, and reports whether it learned one.
func (ts *tokenSource) learn(resp *http.Response) bool {
	m := realmRE.FindStringSubmatch(resp.Header.Get("WWW-Authenticate"))
	ts.mu.Lock()
	defer ts.mu.Unlock()
	if m == nil || ts.audience != "" {
		return false
	}
	ts.audience = m[1]
	return true
}

// authTransport adds the token to each request; a request refused for want of one, while
// the audience was unknown, is sent again with it.
type authTransport struct {
	base http.RoundTripper
	ts   *tokenSource
}

func (t *authTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	tok, err := t.ts.get()
	if err != nil {
		return nil, fmt.Errorf("minting a token: %w", err)
	}
	resp, err := t.base.RoundTrip(withToken(req, tok))
	if err != nil || resp.StatusCode != http.StatusUnauthorized || tok != "" || !t.ts.learn(resp) {
		return resp, err
	}
	if req.Body != nil && req.GetBody == nil {
		return resp, nil // cannot send the body again
	}
	resp.Body.Close()
	again := req.Clone(req.Context())
	if req.GetBody != nil {
		if again.Body, err = req.GetBody(); err != nil {
			return nil, err
		}
	}
	if tok, err = t.ts.get(); err != nil {
		return nil, fmt.Errorf("minting a token: %w", err)
	}
	return t.base.RoundTrip(withToken(again, tok))
}

func withToken(req *http.Request, tok string) *http.Request {
	if tok == "" {
		return req
	}
	r := req.Clone(req.Context())
	r.Header.Set("Authorization", "Bearer "+tok)
	return r
}

// NewHTTPClientAuth is NewHTTPClient with an identity, and the site's CA for https.
func NewHTTPClientAuth(baseURL string, a HTTPAuth) (*Client, error) {
	c, err := NewHTTPClient(baseURL)
	if err != nil {
		return nil, err
	}
	tr := c.http.Transport.(*http.Transport)
	if len(a.CA) > 0 || a.Certificate {
		tr.TLSClientConfig = &tls.Config{MinVersion: tls.VersionTLS13}
	}
	if len(a.CA) > 0 {
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(a.CA) {
			return nil, errors.New("site ca: no PEM certificate")
		}
		tr.TLSClientConfig.RootCAs = pool
	}
	switch {
	case a.Key == nil:
	case a.Certificate:
		cert, err := transport.SelfSigned("atoll-client", a.Key, time.Now())
		if err != nil {
			return nil, err
		}
		tr.TLSClientConfig.Certificates = []tls.Certificate{cert}
	default:
		ttl := a.TTL
		if ttl == 0 {
			ttl = DefaultTokenTTL
		}
		c.http.Transport = &authTransport{base: tr, ts: &tokenSource{key: a.Key, ttl: ttl, audience: a.Audience}}
	}
	return c, nil
}

// Whoami returns the identity the site sees in the client's credentials.
func (c *Client) Whoami(ctx context.Context) (Identity, error) {
	var id Identity
	_, err := c.do(ctx, http.MethodGet, "/v1/whoami", nil, "", &id)
	return id, err
}

// CloseIdleConnections closes the underlying transport's idle connections.
func (t *authTransport) CloseIdleConnections() {
	if ci, ok := t.base.(interface{ CloseIdleConnections() }); ok {
		ci.CloseIdleConnections()
	}
}

// Federation returns the name of the site's federation, the audience of its tokens: from
// the view over the socket, or from the realm the HTTP server names to an anonymous
// caller.
func (c *Client) Federation(ctx context.Context) (string, error) {
	if c.Socket != "" {
		v, err := c.View(ctx)
		return v.Federation, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+"/v1/whoami", nil)
	if err != nil {
		return "", err
	}
	base := c.http.Transport
	if at, ok := base.(*authTransport); ok {
		base = at.base
	}
	resp, err := base.RoundTrip(req)
	if err != nil {
		return "", fmt.Errorf("site api %s: %w", c.addr, err)
	}
	resp.Body.Close()
	m := realmRE.FindStringSubmatch(resp.Header.Get("WWW-Authenticate"))
	if m == nil {
		return "", fmt.Errorf("site api %s: no realm in its answer (%s): give --audience", c.addr, resp.Status)
	}
	return m[1], nil
}

// NewTokenTransport returns a RoundTripper that sends base's requests with bearer tokens
// of key for audience, each valid ttl and minted again a minute before it expires.
func NewTokenTransport(base http.RoundTripper, key ed25519.PrivateKey, audience string, ttl time.Duration) http.RoundTripper {
	return &authTransport{base: base, ts: &tokenSource{key: key, ttl: ttl, audience: audience}}
}

package site

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"slices"
	"strings"
	"time"
)

// OIDCConfig lets people of an organisation's OpenID provider sign in to the dashboard:
// site.yaml `oidc:`. The site is a public client using PKCE, with no shared secret unless
// the provider insists on one (ClientSecretFile). A sign-in becomes a session on this
// process mapped by Identities to a charter operator or observer, looked up by name in
// the current charter on every request (docs/SECURITY.md, "OpenID Connect sessions").
type OIDCConfig struct {
	// Issuer is the provider's issuer URL, exactly as its ID tokens' "iss" spell it; its
	// discovery document is at <issuer>/.well-known/openid-configuration. https, or http
	// on a loopback address (tests).
	Issuer string `json:"issuer"`
	// ClientID is the site's client at the provider; it is the ID tokens' audience.
	ClientID string `json:"clientID"`
	// ClientSecretFile, if set, holds the client's secret (for providers that require a
	// confidential client); without it the site authenticates the exchange by PKCE only.
	ClientSecretFile string `json:"clientSecretFile,omitempty"`
	// RedirectURL is this site's own <base>/v1/oidc/callback as the browser reaches it,
	// registered at the provider.
	RedirectURL string `json:"redirectURL"`
	// Scopes asked for besides "openid" (default: profile, email, groups).
	Scopes []string `json:"scopes,omitempty"`
	// GroupsClaim is the ID token claim listing the user's groups (default "groups").
	GroupsClaim string `json:"groupsClaim,omitempty"`
	// Identities map a subject or a group to a charter identity by name. A subject's
	// entry wins over groups; among groups the first listed that the user is in wins.
	Identities []OIDCIdentity `json:"identities"`
	// SessionTTL bounds a session (default 8h, at most 24h); a session also ends when the
	// ID token that opened it expires.
	SessionTTL Duration `json:"sessionTTL,omitempty"`
	// MaxSessions bounds the sessions this process holds (default 4096); one more evicts
	// the oldest.
	MaxSessions int `json:"maxSessions,omitempty"`
}

// OIDCIdentity maps the users with one subject, or of one group, to a charter identity:
// the name of an operator or an observer (never an admin or a site: those sign changes
// with their keys, and an OpenID provider must not stand in for them).
type OIDCIdentity struct {
	Subject  string `json:"subject,omitempty"`
	Group    string `json:"group,omitempty"`
	Identity string `json:"identity"`
}

// Bounds of OpenID Connect sign-ins (their defaults are in DefaultOIDCConfig).
const (
	oidcCallbackPath = "/v1/oidc/callback"
	oidcMaxTTL       = 24 * time.Hour
	oidcPendingMax   = 1024             // sign-ins started and not yet called back
	oidcPendingTTL   = 10 * time.Minute // time to sign in at the provider
)

// validate checks c without changing it.
func (c OIDCConfig) validate() error {
	u, err := url.Parse(c.Issuer)
	if err != nil || u.Host == "" {
		return fmt.Errorf("oidc.issuer %q: want an https URL", c.Issuer)
	}
	if err := secureURL(u); err != nil {
		return fmt.Errorf("oidc.issuer %q: %w", c.Issuer, err)
	}
	if c.ClientID == "" {
		return errors.New("oidc.clientID is required")
	}
	r, err := url.Parse(c.RedirectURL)
	if err != nil || r.Host == "" || !strings.HasSuffix(r.Path, oidcCallbackPath) {
		return fmt.Errorf("oidc.redirectURL %q: want this site's absolute URL ending in %s", c.RedirectURL, oidcCallbackPath)
	}
	if err := secureURL(r); err != nil {
		return fmt.Errorf("oidc.redirectURL %q: %w", c.RedirectURL, err)
	}
	for _, s := range c.Scopes {
		if s == "" || strings.ContainsAny(s, " \t\n") {
			return fmt.Errorf("oidc.scopes: %q is not one scope", s)
		}
	}
	if c.SessionTTL < 0 || c.SessionTTL.D() > oidcMaxTTL {
		return fmt.Errorf("oidc.sessionTTL %s: at most %s", c.SessionTTL.D(), oidcMaxTTL)
	}
	if c.MaxSessions < 0 {
		return errors.New("oidc.maxSessions: negative")
	}
	if len(c.Identities) == 0 {
		return errors.New("oidc.identities: map at least one subject or group to a charter identity")
	}
	seen := map[string]bool{}
	for i, m := range c.Identities {
		if (m.Subject == "") == (m.Group == "") {
			return fmt.Errorf("oidc.identities[%d]: want one of subject or group", i)
		}
		if m.Identity == "" {
			return fmt.Errorf("oidc.identities[%d]: identity (a charter operator or observer name) is required", i)
		}
		k := "subject " + m.Subject
		if m.Group != "" {
			k = "group " + m.Group
		}
		if seen[k] {
			return fmt.Errorf("oidc.identities: %s mapped twice", k)
		}
		seen[k] = true
	}
	return nil
}

// secureURL accepts https, and http on loopback only.
func secureURL(u *url.URL) error {
	switch u.Scheme {
	case "https":
		return nil
	case "http":
		h := u.Hostname()
		if ip := net.ParseIP(h); h == "localhost" || (ip != nil && ip.IsLoopback()) {
			return nil
		}
		return errors.New("http only on a loopback address: use https")
	}
	return errors.New("want https")
}

// scopes are "openid" and the configured ones (DefaultOIDCConfig's if unset), each once.
func (c OIDCConfig) scopes() []string {
	out := []string{"openid"}
	for _, s := range c.Scopes {
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}

// mapClaims returns the charter identity name the configuration gives to a user with
// subject sub and groups, and what matched; "" if none.
func (c OIDCConfig) mapClaims(sub string, groups []string) (name, by string) {
	for _, m := range c.Identities {
		if m.Subject != "" && m.Subject == sub {
			return m.Identity, "subject " + sub
		}
	}
	for _, m := range c.Identities {
		if m.Group != "" && slices.Contains(groups, m.Group) {
			return m.Identity, "group " + m.Group
		}
	}
	return "", ""
}

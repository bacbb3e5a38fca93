// Package token mints and verifies Atoll bearer tokens: short-lived statements, signed
// by an identity's Ed25519 key, that the holder of that key speaks to one federation
// (or one site of it) until an expiry.
//
// A token is three dot-separated parts:
//
//	atl1.<base64url(claims JSON)>.<base64url(Ed25519 signature)>
//
// The signature covers the first two parts exactly as sent ("atl1." and the encoded
// claims), so the version prefix also separates tokens from every other message an
// Atoll key signs (changes sign "atoll/sign/v1\x00"...). Claims:
//
//	{"key":"ed25519:<base64>","aud":"acme" or "acme/eu-west","iat":1700000000,"exp":1700003600,"jti":"<hex>"}
//
// The package is pure: time enters as the now argument, randomness as the claims' ID.
// Whether the key has a role is the verifier's business (the charter), not this package's.
package token

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Prefix starts every token of this format.
const Prefix = "atl1."

// Limits of what Verify accepts.
const (
	// MaxTTL is the longest lifetime a token may claim (exp - iat).
	MaxTTL = 24 * time.Hour
	// Skew is the clock difference tolerated between the minter and the verifier, on
	// both the issue time and the expiry.
	Skew = time.Minute
	// MaxLen bounds a token's length, checked before anything is decoded.
	MaxLen = 1024

	maxUnix = 1 << 40 // the latest iat or exp accepted, in Unix seconds
)

// Claims is what a token says.
type Claims struct {
	Key      string `json:"key"` // the signer's public key, "ed25519:<base64>"
	Audience string `json:"aud"` // the federation's name, or "<federation>/<site>"
	IssuedAt int64  `json:"iat"` // Unix seconds
	Expiry   int64  `json:"exp"` // Unix seconds
	ID       string `json:"jti"` // random, so two tokens minted in one second differ
}

// Expires returns the expiry as a time.
func (c Claims) Expires() time.Time { return time.Unix(c.Expiry, 0) }

// Errors Verify returns, wrapped with details; callers branch on them to answer.
var (
	ErrMalformed = errors.New("malformed token")
	ErrSignature = errors.New("token signature does not verify under its key")
	ErrExpired   = errors.New("token expired")
	ErrNotYet    = errors.New("token issued in the future")
	ErrTTL       = errors.New("token lifetime too long")
	ErrAudience  = errors.New("token is for another audience")
)

// Mint signs c with priv. c.Key is set from priv; the caller sets the rest.
func Mint(priv ed25519.PrivateKey, c Claims) (string, error) {
	pub, ok := priv.Public().(ed25519.PublicKey)
	if !ok || len(priv) != ed25519.PrivateKeySize {
		return "", errors.New("token: not an Ed25519 private key")
	}
	c.Key = "ed25519:" + base64.StdEncoding.EncodeToString(pub)
	if c.Expiry <= c.IssuedAt {
		return "", errors.New("token: expiry must follow the issue time")
	}
	if c.Audience == "" {
		return "", errors.New("token: audience is required")
	}
	b, err := json.Marshal(c)
	if err != nil {
		return "", err
	}
	msg := Prefix + base64.RawURLEncoding.EncodeToString(b)
	sig := ed25519.Sign(priv, []byte(msg))
	return msg + "." + base64.RawURLEncoding.EncodeToString(sig), nil
}

// Parse checks a token's form and signature and returns its claims and key, without
// judging time or audience (Check does). It is the costly half: one signature check.
func Parse(tok string) (Claims, ed25519.PublicKey, error) {
	if len(tok) > MaxLen {
		return Claims{}, nil, fmt.Errorf("%w: %d bytes, at most %d", ErrMalformed, len(tok), MaxLen)
	}
	rest, ok := strings.CutPrefix(tok, Prefix)
	if !ok {
		return Claims{}, nil, fmt.Errorf("%w: want %q<claims>.<signature>", ErrMalformed, Prefix)
	}
	enc, sigEnc, ok := strings.Cut(rest, ".")
	if !ok || strings.Contains(sigEnc, ".") {
		return Claims{}, nil, fmt.Errorf("%w: want three dot-separated parts", ErrMalformed)
	}
	b, err := base64.RawURLEncoding.DecodeString(enc)
	if err != nil {
		return Claims{}, nil, fmt.Errorf("%w: claims are not base64url", ErrMalformed)
	}
	sig, err := base64.RawURLEncoding.DecodeString(sigEnc)
	if err != nil || len(sig) != ed25519.SignatureSize {
		return Claims{}, nil, fmt.Errorf("%w: signature is not %d bytes of base64url", ErrMalformed, ed25519.SignatureSize)
	}
	var c Claims
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		return Claims{}, nil, fmt.Errorf("%w: claims: %v", ErrMalformed, err)
	}
	keyB64, ok := strings.CutPrefix(c.Key, "ed25519:")
	if !ok {
		return Claims{}, nil, fmt.Errorf("%w: key %q: want ed25519:<base64>", ErrMalformed, c.Key)
	}
	key, err := base64.StdEncoding.DecodeString(keyB64)
	if err != nil || len(key) != ed25519.PublicKeySize {
		return Claims{}, nil, fmt.Errorf("%w: key %q: want 32 bytes of base64", ErrMalformed, c.Key)
	}
	if c.Audience == "" || c.ID == "" || c.IssuedAt == 0 || c.Expiry == 0 {
		return Claims{}, nil, fmt.Errorf("%w: aud, iat, exp and jti are required", ErrMalformed)
	}
	if !ed25519.Verify(key, []byte(Prefix+enc), sig) {
		return Claims{}, nil, ErrSignature
	}
	return c, ed25519.PublicKey(key), nil
}

// Check judges verified claims at now: the lifetime is at most MaxTTL, the token was not
// issued in the future nor has expired (each with Skew), and its audience is one of
// audiences.
func Check(c Claims, now time.Time, audiences ...string) error {
	// Bounded first, so that no difference below overflows: 0 to 2^40 s is 1970 to
	// the year 36812.
	if c.IssuedAt < 0 || c.Expiry < 0 || c.IssuedAt > maxUnix || c.Expiry > maxUnix {
		return fmt.Errorf("%w: iat %d, exp %d: want Unix seconds from 0 to %d", ErrMalformed, c.IssuedAt, c.Expiry, int64(maxUnix))
	}
	if life := c.Expiry - c.IssuedAt; life <= 0 || life > int64(MaxTTL/time.Second) {
		return fmt.Errorf("%w: %ds from issue to expiry, want more than 0 and at most %v", ErrTTL, life, MaxTTL)
	}
	if time.Unix(c.IssuedAt, 0).After(now.Add(Skew)) {
		return fmt.Errorf("%w: issued at %s", ErrNotYet, time.Unix(c.IssuedAt, 0).UTC().Format(time.RFC3339))
	}
	if !now.Add(-Skew).Before(c.Expires()) {
		return fmt.Errorf("%w at %s", ErrExpired, c.Expires().UTC().Format(time.RFC3339))
	}
	for _, a := range audiences {
		if c.Audience == a {
			return nil
		}
	}
	return fmt.Errorf("%w: %q, want %s", ErrAudience, c.Audience, strings.Join(quote(audiences), " or "))
}

// Verify is Parse then Check.
func Verify(tok string, now time.Time, audiences ...string) (Claims, ed25519.PublicKey, error) {
	c, key, err := Parse(tok)
	if err != nil {
		return Claims{}, nil, err
	}
	return c, key, Check(c, now, audiences...)
}

func quote(ss []string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = fmt.Sprintf("%q", s)
	}
	return out
}

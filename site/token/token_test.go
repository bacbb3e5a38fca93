package token

import (
	"crypto/ed25519"
	"errors"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

func key(seed byte) ed25519.PrivateKey {
	return ed25519.NewKeyFromSeed([]byte(strings.Repeat(string(rune('a'+seed)), ed25519.SeedSize)))
}

func TestVerify(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	priv := key(0)
	mint := func(aud string, iat, exp time.Time) string {
		tok, err := Mint(priv, Claims{Audience: aud, IssuedAt: iat.Unix(), Expiry: exp.Unix(), ID: "1"})
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	good := mint("acme", now, now.Add(time.Hour))
	other, _ := Mint(key(1), Claims{Audience: "acme", IssuedAt: now.Unix(), Expiry: now.Add(time.Hour).Unix(), ID: "1"})
	forged := good[:strings.LastIndex(good, ".")] + other[strings.LastIndex(other, "."):]
	for _, tc := range []struct {
		name string
		tok  string
		aud  []string
		want error
	}{
		{"good", good, []string{"acme"}, nil},
		{"site audience", mint("acme/eu", now, now.Add(time.Hour)), []string{"acme", "acme/eu"}, nil},
		{"other federation", mint("other", now, now.Add(time.Hour)), []string{"acme", "acme/eu"}, ErrAudience},
		{"other site", mint("acme/us", now, now.Add(time.Hour)), []string{"acme", "acme/eu"}, ErrAudience},
		{"expired", mint("acme", now.Add(-2*time.Hour), now.Add(-time.Hour)), []string{"acme"}, ErrExpired},
		{"expired within skew", mint("acme", now.Add(-time.Hour), now.Add(-30*time.Second)), []string{"acme"}, nil},
		{"future", mint("acme", now.Add(time.Hour), now.Add(2*time.Hour)), []string{"acme"}, ErrNotYet},
		{"too long", mint("acme", now, now.Add(25*time.Hour)), []string{"acme"}, ErrTTL},
		{"forged", forged, []string{"acme"}, ErrSignature},
		{"eternal through overflow", mintRaw(t, priv, Claims{Audience: "acme", IssuedAt: -9e18, Expiry: 9e18, ID: "1"}), []string{"acme"}, ErrMalformed},
		{"far future", mintRaw(t, priv, Claims{Audience: "acme", IssuedAt: now.Unix(), Expiry: 1 << 62, ID: "1"}), []string{"acme"}, ErrMalformed},
		{"negative", mintRaw(t, priv, Claims{Audience: "acme", IssuedAt: -7200, Expiry: -3600, ID: "1"}), []string{"acme"}, ErrMalformed},
		{"empty", "", []string{"acme"}, ErrMalformed},
		{"jwt", "eyJhbGciOiJIUzI1NiJ9.e30.abc", []string{"acme"}, ErrMalformed},
		{"two parts", "atl1.e30", []string{"acme"}, ErrMalformed},
		{"four parts", good + ".x", []string{"acme"}, ErrMalformed},
		{"bad claims", "atl1.!!!." + good[strings.LastIndex(good, ".")+1:], []string{"acme"}, ErrMalformed},
		{"huge", "atl1." + strings.Repeat("a", MaxLen), []string{"acme"}, ErrMalformed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, k, err := Verify(tc.tok, now, tc.aud...)
			if !errors.Is(err, tc.want) {
				t.Fatalf("Verify: %v, want %v", err, tc.want)
			}
			if err == nil && (!k.Equal(priv.Public()) || c.ID != "1") {
				t.Fatalf("claims %+v, key %x", c, k)
			}
		})
	}
}

func TestMintRefuses(t *testing.T) {
	if _, err := Mint(key(0), Claims{Audience: "acme", IssuedAt: 10, Expiry: 10, ID: "x"}); err == nil {
		t.Error("minted a token that expires when issued")
	}
	if _, err := Mint(key(0), Claims{IssuedAt: 10, Expiry: 20, ID: "x"}); err == nil {
		t.Error("minted a token without audience")
	}
}

// TestPure keeps the package free of I/O, clocks and randomness: time and ids come in.
func TestPure(t *testing.T) {
	forbidden := []string{"net", "os", "math/rand", "crypto/rand", "log", "sync", "atoll"}
	files, _ := filepath.Glob("*.go")
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		src, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		f, err := parser.ParseFile(token.NewFileSet(), name, src, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range f.Imports {
			path, _ := strconv.Unquote(imp.Path.Value)
			for _, bad := range forbidden {
				if path == bad || strings.HasPrefix(path, bad+"/") {
					t.Errorf("%s imports %q: token is pure", name, path)
				}
			}
		}
	}
}

func mintRaw(t *testing.T, priv ed25519.PrivateKey, c Claims) string {
	t.Helper()
	tok, err := Mint(priv, c)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// FuzzParse: no input makes Parse panic, and whatever it accepts verifies under the key
// it names and survives Check without panicking.
func FuzzParse(f *testing.F) {
	priv := key(0)
	good, _ := Mint(priv, Claims{Audience: "acme", IssuedAt: 1_800_000_000, Expiry: 1_800_003_600, ID: "1"})
	for _, s := range []string{good, "", "atl1.", "atl1..", "atl1.e30.", good + ".", strings.Replace(good, "atl1", "atl2", 1)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, tok string) {
		c, k, err := Parse(tok)
		if err != nil {
			return
		}
		if len(k) != ed25519.PublicKeySize || c.Audience == "" {
			t.Fatalf("accepted %q: claims %+v, key %x", tok, c, k)
		}
		_ = Check(c, time.Unix(1_800_000_100, 0), "acme")
	})
}

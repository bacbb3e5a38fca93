package e2e

import (
	"cmp"
	"net/http"
	"path/filepath"
	"time"

	"atoll/site"
)

// Federation returns the federation's name: the audience of its tokens.
func (f *Fed) Federation() string { return cmp.Or(f.opts.Federation, "e2e") }

// KeyFile returns the key file of identity name: "admin", "operator", a site's name, or
// a name of Options.Operators or Options.Observers.
func (f *Fed) KeyFile(name string) string { return filepath.Join(f.opts.Dir, name+".key") }

// Token mints a bearer token of identity name for the whole federation, valid for ttl.
func (f *Fed) Token(name string, ttl time.Duration) (string, error) {
	k, err := site.LoadKeyFile(f.KeyFile(name))
	if err != nil {
		return "", err
	}
	return site.MintToken(k.PrivateKey(), f.Federation(), time.Now(), ttl)
}

// Transport wraps base (nil: a new http.Transport) to prove identity name to the sites'
// HTTP servers with bearer tokens.
func (f *Fed) Transport(name string, base http.RoundTripper) (http.RoundTripper, error) {
	k, err := site.LoadKeyFile(f.KeyFile(name))
	if err != nil {
		return nil, err
	}
	if base == nil {
		base = http.DefaultTransport.(*http.Transport).Clone()
	}
	return site.NewTokenTransport(base, k.PrivateKey(), f.Federation(), time.Hour), nil
}

// HTTP returns a client that reads every site's HTTP server as the federation's admin.
func (f *Fed) HTTP() *http.Client {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.http == nil {
		tr, err := f.Transport("admin", nil)
		if err != nil {
			panic("e2e: the admin key written by Start is unreadable: " + err.Error())
		}
		f.http = &http.Client{Transport: tr}
	}
	return f.http
}

// HTTPAs returns a client that proves identity name to the sites' HTTP servers.
func (f *Fed) HTTPAs(name string) (*http.Client, error) {
	tr, err := f.Transport(name, nil)
	if err != nil {
		return nil, err
	}
	return &http.Client{Transport: tr}, nil
}

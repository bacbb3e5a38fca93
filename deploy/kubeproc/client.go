package kubeproc

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"
)

// requestTimeout bounds each request to a component; ctx bounds the whole wait.
const requestTimeout = 10 * time.Second

// maxResponse bounds the body of a response read into memory.
const maxResponse = 64 << 20

// Client talks JSON over HTTPS to an apiserver (or to a component's health endpoint)
// with plain net/http: the main module has no client-go.
type Client struct {
	base  string // https://127.0.0.1:port
	token string // bearer token; empty for health endpoints
	hc    *http.Client
}

// StatusError is a response outside 2xx.
type StatusError struct {
	Method, URL string
	Code        int
	Body        string // the start of the response body
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("kubeproc: %s %s: %d %s", e.Method, e.URL, e.Code, e.Body)
}

// IsStatus reports whether err is a StatusError with the code.
func IsStatus(err error, code int) bool {
	se, ok := errors.AsType[*StatusError](err)
	return ok && se.Code == code
}

// NewClient returns a client of base (https://127.0.0.1:port) that trusts only caPEM and
// sends token, if not empty, as a bearer token; with no CA it speaks plain HTTP (etcd).
func NewClient(base string, caPEM []byte, token string) (*Client, error) {
	tr := &http.Transport{MaxIdleConnsPerHost: 4}
	if caPEM != nil {
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(caPEM) {
			return nil, fmt.Errorf("kubeproc: no certificate in the CA PEM")
		}
		tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	}
	return &Client{base: base, token: token, hc: &http.Client{Transport: tr, Timeout: requestTimeout}}, nil
}

// Do sends in (if not nil) as JSON and decodes the response into out (if not nil).
func (c *Client) Do(ctx context.Context, method, path string, in, out any) error {
	var body []byte
	if in != nil {
		var err error
		if body, err = json.Marshal(in); err != nil {
			return err
		}
	}
	return c.Send(ctx, method, path, "application/json", body, out)
}

// Send sends body (if not nil) with the content type and decodes a JSON response into
// out (if not nil). A status outside 2xx is a *StatusError.
func (c *Client) Send(ctx context.Context, method, path, contentType string, body []byte, out any) error {
	var r io.Reader
	if body != nil {
		r = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, r)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", contentType)
	}
	b, err := c.roundTrip(req, maxResponse)
	if err != nil || out == nil {
		return err
	}
	if err := json.Unmarshal(b, out); err != nil {
		return fmt.Errorf("kubeproc: decoding %s %s: %w", method, path, err)
	}
	return nil
}

// OK reports whether GET path answers 200 (health endpoints: /readyz, /healthz).
func (c *Client) OK(ctx context.Context, path string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+path, nil)
	if err != nil {
		return err
	}
	_, err = c.roundTrip(req, 4096)
	return err
}

// roundTrip sends req with the token and returns up to limit bytes of a 2xx response.
func (c *Client) roundTrip(req *http.Request, limit int64) ([]byte, error) {
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, limit))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode/100 != 2 {
		if len(b) > 500 {
			b = b[:500]
		}
		return nil, &StatusError{Method: req.Method, URL: req.URL.String(), Code: resp.StatusCode, Body: string(bytes.TrimSpace(b))}
	}
	return b, nil
}

// At returns a client of another base URL sharing c's transport and token.
func (c *Client) At(base string) *Client {
	d := *c
	d.base = base
	return &d
}

// Close closes the idle connections.
func (c *Client) Close() { c.hc.CloseIdleConnections() }

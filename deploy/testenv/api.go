package testenv

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

// apiClient talks JSON over HTTPS to the apiserver (or to a component's health endpoint)
// with plain net/http: the main module has no client-go.
type apiClient struct {
	base  string // https://127.0.0.1:port
	token string // bearer token; empty for health endpoints
	hc    *http.Client
}

// statusError is a response outside 2xx.
type statusError struct {
	method, url string
	code        int
	body        string
}

func (e *statusError) Error() string {
	return fmt.Sprintf("testenv: %s %s: %d %s", e.method, e.url, e.code, e.body)
}

// newAPIClient trusts only the cluster's CA; with no CA it speaks plain HTTP (etcd).
func newAPIClient(base string, caPEM []byte, token string) (*apiClient, error) {
	tr := &http.Transport{MaxIdleConnsPerHost: 4}
	if caPEM != nil {
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(caPEM) {
			return nil, fmt.Errorf("testenv: no certificate in the CA PEM")
		}
		tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	}
	return &apiClient{base: base, token: token, hc: &http.Client{Transport: tr, Timeout: requestTimeout}}, nil
}

// do sends in (if not nil) as JSON and decodes the response into out (if not nil).
func (c *apiClient) do(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, body)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "application/json")
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode/100 != 2 {
		if len(b) > 500 {
			b = b[:500]
		}
		return &statusError{method: method, url: c.base + path, code: resp.StatusCode, body: string(bytes.TrimSpace(b))}
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(b, out); err != nil {
		return fmt.Errorf("testenv: decoding %s %s: %w", method, path, err)
	}
	return nil
}

// ok reports whether GET path answers 2xx (health endpoints: /readyz, /healthz).
func (c *apiClient) ok(ctx context.Context, path string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+path, nil)
	if err != nil {
		return err
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode != http.StatusOK {
		return &statusError{method: http.MethodGet, url: c.base + path, code: resp.StatusCode, body: string(bytes.TrimSpace(b))}
	}
	return nil
}

// at returns a client of another base URL sharing c's transport and token.
func (c *apiClient) at(base string) *apiClient {
	d := *c
	d.base = base
	return &d
}

func (c *apiClient) close() { c.hc.CloseIdleConnections() }

// node is the part of a v1 Node this package reads.
type node struct {
	Metadata struct {
		Name string `json:"name"`
	} `json:"metadata"`
	Status struct {
		Conditions []struct {
			Type   string `json:"type"`
			Status string `json:"status"`
		} `json:"conditions"`
	} `json:"status"`
}

func (n *node) ready() bool {
	for _, c := range n.Status.Conditions {
		if c.Type == "Ready" {
			return c.Status == "True"
		}
	}
	return false
}

// readyNodes returns the names of the Nodes whose Ready condition is True.
func (c *apiClient) readyNodes(ctx context.Context) ([]string, error) {
	var list struct {
		Items []node `json:"items"`
	}
	if err := c.do(ctx, http.MethodGet, "/api/v1/nodes", nil, &list); err != nil {
		return nil, err
	}
	var names []string
	for _, n := range list.Items {
		if n.ready() {
			names = append(names, n.Metadata.Name)
		}
	}
	return names, nil
}

// permanentError ends a poll at once; any other error from a condition is retried.
type permanentError struct{ err error }

func (e *permanentError) Error() string { return e.err.Error() }
func (e *permanentError) Unwrap() error { return e.err }

// poll calls cond every interval until it returns true or a permanentError, or ctx ends;
// on timeout the error names what was awaited and the condition's last error.
func poll(ctx context.Context, what string, interval time.Duration, cond func(context.Context) (bool, error)) error {
	t := time.NewTicker(interval)
	defer t.Stop()
	var last error
	for {
		done, err := cond(ctx)
		if done {
			return nil
		}
		if pe, ok := errors.AsType[*permanentError](err); ok {
			return pe.err
		}
		last = err
		select {
		case <-ctx.Done():
			if last != nil {
				return fmt.Errorf("testenv: waiting for %s: %w (last: %v)", what, context.Cause(ctx), last)
			}
			return fmt.Errorf("testenv: waiting for %s: %w", what, context.Cause(ctx))
		case <-t.C:
		}
	}
}

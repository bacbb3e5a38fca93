package fedapi

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"time"

	"sigs.k8s.io/yaml"
)

// requestTimeout bounds each request; ctx bounds the whole wait.
const requestTimeout = 10 * time.Second

// client talks to the apiserver with plain net/http and JSON, as the admin of a
// kubeconfig: the main module has no client-go.
type client struct {
	server string // https://127.0.0.1:port
	token  string
	hc     *http.Client
}

// readKubeconfig returns a client for the current context of a token kubeconfig (the kind
// deploy/testenv writes: one cluster with certificate-authority-data, one token user).
func readKubeconfig(path string) (*client, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("fedapi: %w", err)
	}
	var kc struct {
		CurrentContext string `json:"current-context"`
		Contexts       []struct {
			Name    string `json:"name"`
			Context struct {
				Cluster string `json:"cluster"`
				User    string `json:"user"`
			} `json:"context"`
		} `json:"contexts"`
		Clusters []struct {
			Name    string `json:"name"`
			Cluster struct {
				Server string `json:"server"`
				CAData []byte `json:"certificate-authority-data"`
			} `json:"cluster"`
		} `json:"clusters"`
		Users []struct {
			Name string `json:"name"`
			User struct {
				Token string `json:"token"`
			} `json:"user"`
		} `json:"users"`
	}
	if err := yaml.Unmarshal(b, &kc); err != nil {
		return nil, fmt.Errorf("fedapi: kubeconfig %s: %w", path, err)
	}
	c := &client{}
	var caPEM []byte
	for _, x := range kc.Contexts {
		if x.Name != kc.CurrentContext {
			continue
		}
		for _, cl := range kc.Clusters {
			if cl.Name == x.Context.Cluster {
				c.server, caPEM = cl.Cluster.Server, cl.Cluster.CAData
			}
		}
		for _, u := range kc.Users {
			if u.Name == x.Context.User {
				c.token = u.User.Token
			}
		}
	}
	pool := x509.NewCertPool()
	if c.server == "" || c.token == "" || !pool.AppendCertsFromPEM(caPEM) {
		return nil, fmt.Errorf("fedapi: kubeconfig %s: context %q lacks a server, a CA or a token", path, kc.CurrentContext)
	}
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}
	c.hc = &http.Client{Transport: tr, Timeout: requestTimeout}
	return c, nil
}

// send sends body (if not nil) with the content type and decodes a JSON response into
// out (if not nil); a status outside 2xx is an error with the start of the response.
func (c *client) send(ctx context.Context, method, path, contentType string, body []byte, out any) error {
	req, err := http.NewRequestWithContext(ctx, method, c.server+path, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("Authorization", "Bearer "+c.token)
	if body != nil {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode/100 != 2 {
		if len(b) > 500 {
			b = b[:500]
		}
		return fmt.Errorf("%s %s: %d %s", method, path, resp.StatusCode, bytes.TrimSpace(b))
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(b, out); err != nil {
		return fmt.Errorf("decoding %s %s: %w", method, path, err)
	}
	return nil
}

func (c *client) close() { c.hc.CloseIdleConnections() }

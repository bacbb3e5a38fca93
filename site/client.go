package site

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"atoll/crdt"
	"atoll/site/kube"
)

// Client talks to a site's API: the local API over its unix socket (NewClient), or the
// HTTP server, which serves the reads and changes signed elsewhere (NewHTTPClient).
type Client struct {
	Socket string // the unix socket; "" for an HTTP client
	base   string // what request paths are appended to
	addr   string // the socket or the URL, for messages
	http   *http.Client
}

// NewClient returns a client for the API socket at path.
func NewClient(path string) *Client {
	tr := &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", path)
		},
		MaxIdleConns: 4,
	}
	return &Client{Socket: path, base: "http://site", addr: path, http: &http.Client{Transport: tr, Timeout: 2 * time.Minute}}
}

// NewHTTPClient returns a client for a site's HTTP server at baseURL
// ("http://host:port" or "https://host:port", optionally with a path prefix). Site-signed
// writes and cluster membership are not served there.
func NewHTTPClient(baseURL string) (*Client, error) {
	u, err := url.Parse(baseURL)
	if err != nil {
		return nil, fmt.Errorf("site url %q: %w", baseURL, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
		return nil, fmt.Errorf("site url %q: want http://host:port or https://host:port", baseURL)
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("site url %q: no query or fragment", baseURL)
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConns = 4
	base := strings.TrimSuffix(baseURL, "/")
	return &Client{base: base, addr: base, http: &http.Client{Transport: tr, Timeout: 2 * time.Minute}}, nil
}

// Addr is the socket path or URL the client talks to.
func (c *Client) Addr() string { return c.addr }

// Close releases idle connections.
func (c *Client) Close() { c.http.CloseIdleConnections() }

func (c *Client) do(ctx context.Context, method, path string, body []byte, ctype string, out any) (int, error) {
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return 0, fmt.Errorf("site api %s: %w", c.addr, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return resp.StatusCode, err
	}
	if resp.StatusCode/100 != 2 {
		var e struct{ Error string }
		if json.Unmarshal(b, &e) == nil && e.Error != "" {
			return resp.StatusCode, fmt.Errorf("site api %s %s: %s", method, path, e.Error)
		}
		return resp.StatusCode, fmt.Errorf("site api %s %s: %s", method, path, resp.Status)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			return resp.StatusCode, fmt.Errorf("site api %s %s: %w", method, path, err)
		}
	}
	return resp.StatusCode, nil
}

func (c *Client) postJSON(ctx context.Context, path string, in, out any) error {
	b, err := json.Marshal(in)
	if err != nil {
		return err
	}
	_, err = c.do(ctx, http.MethodPost, path, b, "application/json", out)
	return err
}

// State returns the site's view of itself.
func (c *Client) State(ctx context.Context) (State, error) {
	var st State
	_, err := c.do(ctx, http.MethodGet, "/v1/state", nil, "", &st)
	return st, err
}

// View returns the whole federation as the site sees it (GET /v1/view?fresh=true): a
// view that holds everything the site stored before the call, such as a write the
// caller just made.
func (c *Client) View(ctx context.Context) (View, error) {
	var v View
	_, err := c.do(ctx, http.MethodGet, "/v1/view?fresh=true", nil, "", &v)
	return v, err
}

// ViewQuery asks GET /v1/view for one page of the workloads (see ViewPage).
type ViewQuery struct {
	Namespaces []string // only these namespaces; none: all
	Query      string   // only workloads whose namespace/name holds it, ignoring case
	Limit      int      // at most this many a page (1 to 1,000; 0: the site's default, 500)
	Continue   string   // the previous page's Page.Continue
	Fresh      bool     // a view holding everything the site stored before the call
}

func (q ViewQuery) values() url.Values {
	v := url.Values{}
	if len(q.Namespaces) > 0 {
		v.Set("namespace", strings.Join(q.Namespaces, ","))
	}
	v.Set("q", q.Query) // present even if empty: the answer is paged
	if q.Limit > 0 {
		v.Set("limit", strconv.Itoa(q.Limit))
	}
	if q.Continue != "" {
		v.Set("continue", q.Continue)
	}
	if q.Fresh {
		v.Set("fresh", "true")
	}
	return v
}

// ViewPage returns the view with one page of its workloads, those q selects.
func (c *Client) ViewPage(ctx context.Context, q ViewQuery) (View, error) {
	var v View
	_, err := c.do(ctx, http.MethodGet, "/v1/view?"+q.values().Encode(), nil, "", &v)
	if err == nil && v.Page == nil {
		err = errors.New("site api GET /v1/view: the answer is not paged (a site older than paging?)")
	}
	return v, err
}

// ViewWorkloads returns the view with every workload q selects, read a page at a time
// (q.Continue is where it starts): the first page as q.Fresh asks, the others from the
// latest views, which are at least as new. It stops at maxPages pages.
func (c *Client) ViewWorkloads(ctx context.Context, q ViewQuery, maxPages int) (View, error) {
	v, err := c.ViewPage(ctx, q)
	for range maxPages - 1 {
		if err != nil || v.Page.Continue == "" {
			return v, err
		}
		q.Fresh, q.Continue = false, v.Page.Continue
		var next View
		next, err = c.ViewPage(ctx, q)
		if err == nil {
			next.Workloads = append(v.Workloads, next.Workloads...)
			v = next
		}
	}
	if err == nil && v.Page.Continue != "" {
		err = fmt.Errorf("site api GET /v1/view: more than %d pages", maxPages)
	}
	return v, err
}

// Write asks the site to sign and store operations in its own scope.
func (c *Client) Write(ctx context.Context, req WriteRequest) (WriteResult, error) {
	var res WriteResult
	err := c.postJSON(ctx, "/v1/write", req, &res)
	return res, err
}

// Submit hands the site a change signed elsewhere.
func (c *Client) Submit(ctx context.Context, env []byte) (WriteResult, error) {
	var res WriteResult
	_, err := c.do(ctx, http.MethodPost, "/v1/changes", env, "application/octet-stream", &res)
	return res, err
}

// Has reports whether the site holds a change (id in hex), waiting up to wait for it.
func (c *Client) Has(ctx context.Context, id string, wait time.Duration) (bool, error) {
	h, err := c.Held(ctx, id, wait)
	return h.Held, err
}

// Held reports whether the site holds a change, and with its bodies, waiting up to wait.
func (c *Client) Held(ctx context.Context, id string, wait time.Duration) (Held, error) {
	path := "/v1/changes/" + id
	if wait > 0 {
		path += "?wait=" + wait.String()
	}
	var h Held
	code, err := c.do(ctx, http.MethodGet, path, nil, "", &h)
	if code == http.StatusNotFound {
		return Held{}, nil
	}
	return h, err
}

// Faults blocks or unblocks peers (sites run with faultInjection: true).
func (c *Client) Faults(ctx context.Context, req FaultRequest) error {
	return c.postJSON(ctx, "/v1/faults", req, nil)
}

// JoinCluster registers a member cluster with the site.
func (c *Client) JoinCluster(ctx context.Context, req JoinRequest) error {
	return c.postJSON(ctx, "/v1/clusters", req, nil)
}

// TaintCluster sets a member cluster's taints, in place of its own.
func (c *Client) TaintCluster(ctx context.Context, name string, taints []string) error {
	b, err := json.Marshal(TaintRequest{Taints: taints})
	if err != nil {
		return err
	}
	_, err = c.do(ctx, http.MethodPut, "/v1/clusters/"+name+"/taints", b, "application/json", nil)
	return err
}

// UnjoinCluster forgets a member cluster. warning says what may be left in the cluster
// if it could not be cleaned up.
func (c *Client) UnjoinCluster(ctx context.Context, name string) (warning string, err error) {
	var out struct{ Warning string }
	_, err = c.do(ctx, http.MethodDelete, "/v1/clusters/"+name, nil, "", &out)
	return out.Warning, err
}

// Clusters lists the site's joined clusters.
func (c *Client) Clusters(ctx context.Context) ([]kube.Entry, error) {
	var out []kube.Entry
	_, err := c.do(ctx, http.MethodGet, "/v1/clusters", nil, "", &out)
	return out, err
}

// Object returns an object's fields as the site holds them; nil if it has none.
func (c *Client) Object(ctx context.Context, kind, key string) (map[string]ObjectField, error) {
	var out map[string]ObjectField
	// A cluster-scoped template's key begins with "/": escaped, or the server's mux
	// would clean the "//" away and redirect to another key.
	if rest, ok := strings.CutPrefix(key, "/"); ok {
		key = "%2F" + rest
	}
	code, err := c.do(ctx, http.MethodGet, "/v1/objects/"+kind+"/"+key, nil, "", &out)
	if code == http.StatusNotFound {
		return nil, nil
	}
	return out, err
}

// Policies returns the stored policies the caller may read, each with why it takes no
// part in placement if it does not.
func (c *Client) Policies(ctx context.Context) ([]PolicyReport, error) {
	var out []PolicyReport
	_, err := c.do(ctx, http.MethodGet, "/v1/policies", nil, "", &out)
	return out, err
}

// Placement explains a workload's placement as the site computes it now.
func (c *Client) Placement(ctx context.Context, namespace, name string) (Placement, error) {
	var out Placement
	_, err := c.do(ctx, http.MethodGet, "/v1/placement/"+namespace+"/"+name, nil, "", &out)
	return out, err
}

// Audit returns the site's residency audit records.
func (c *Client) Audit(ctx context.Context) ([]AuditRecord, error) {
	var out []AuditRecord
	_, err := c.do(ctx, http.MethodGet, "/v1/audit", nil, "", &out)
	return out, err
}

// Charter returns the charter in force at the site, its tip and its charter changes.
func (c *Client) Charter(ctx context.Context) (CharterState, error) {
	var out CharterState
	_, err := c.do(ctx, http.MethodGet, "/v1/charter", nil, "", &out)
	return out, err
}

// Tip is where a client's change goes: on top of the site's heads.
type Tip struct {
	Deps    []string `json:"deps"`
	Lamport uint64   `json:"lamport"` // the new change's Lamport time
}

// Prepare returns a change of ops on top of the site's heads, for the caller to sign
// (crdt.Sign) and Submit.
func (c *Client) Prepare(ctx context.Context, ops []crdt.Op, bound []string) (*crdt.Change, error) {
	var tip Tip
	if _, err := c.do(ctx, http.MethodGet, "/v1/tip", nil, "", &tip); err != nil {
		return nil, err
	}
	ch := &crdt.Change{Lamport: tip.Lamport, Ops: ops, Bound: slices.Sorted(slices.Values(bound))}
	for _, d := range tip.Deps {
		h, err := crdt.ParseHash(d)
		if err != nil {
			return nil, fmt.Errorf("site tip: %w", err)
		}
		ch.Deps = append(ch.Deps, h)
	}
	return ch, nil
}

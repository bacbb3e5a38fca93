package site

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"time"

	"atoll/deploy/fedapi"
)

// The site as the front proxy of its Kubernetes API: the HTTP server's /k8s/ forwards
// to the API server whoever authn proved (a token, a client certificate of a charter
// key, an OpenID Connect session), naming them in the headers of the API server's
// requestheader mode, with the front proxy's certificate, the only one those headers
// are believed with. RBAC in the API server, written from the charter (fedsync
// grants.go), then decides what each may do: an operator edits its namespaces, every
// identity reads. What a caller sends in those headers, or to impersonate, is dropped.

// kubePrefix is where the HTTP server serves the Kubernetes API.
const kubePrefix = "/k8s"

// kubeProxy forwards to a running API server.
type kubeProxy struct {
	rp *httputil.ReverseProxy
}

// newKubeProxy builds the proxy of a started API server.
func newKubeProxy(srv *fedapi.Server) (*kubeProxy, error) {
	target, err := url.Parse(srv.URL())
	if err != nil {
		return nil, err
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(srv.CAPEM()) {
		return nil, errors.New("kubernetes API: no CA certificate")
	}
	cert := srv.FrontProxyCert()
	tr := &http.Transport{
		TLSClientConfig:     &tls.Config{RootCAs: roots, Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS13},
		ForceAttemptHTTP2:   true,
		MaxIdleConnsPerHost: 32,
		IdleConnTimeout:     90 * time.Second,
	}
	rp := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			id := identityOf(pr.In)
			pr.SetURL(target)
			pr.Out.URL.Path = strings.TrimPrefix(pr.In.URL.Path, kubePrefix)
			pr.Out.URL.RawPath = ""
			for h := range pr.Out.Header {
				if l := strings.ToLower(h); l == "authorization" || l == "cookie" || strings.HasPrefix(l, "x-remote-") || strings.HasPrefix(l, "impersonate-") {
					pr.Out.Header.Del(h)
				}
			}
			pr.Out.Header.Set(fedapi.UserHeader, KubeUser(id))
			pr.Out.Header.Set(fedapi.GroupHeader, KubeGroup(id.Role))
		},
		Transport:     tr,
		FlushInterval: -1, // watches stream as the API server writes them
		ErrorHandler: func(w http.ResponseWriter, _ *http.Request, err error) {
			writeErr(w, http.StatusBadGateway, fmt.Errorf("kubernetes API: %w", err))
		},
	}
	return &kubeProxy{rp: rp}, nil
}

// KubeUser is the user name a charter identity has in a site's Kubernetes API.
func KubeUser(id Identity) string { return "atoll:" + string(id.Role) + ":" + id.Name }

// KubeGroup is the group of a role in a site's Kubernetes API: atoll:operators, ...
func KubeGroup(r Role) string { return "atoll:" + string(r) + "s" }

// handleKube serves /k8s/: the Kubernetes API of this site, to any identity (RBAC in
// the API server decides). A watch counts against httpLimits.maxStreams; each write to
// the caller gets its own deadline, so a watch outlives the server's write timeout but a
// caller that stops reading is dropped.
func (s *Site) handleKube(w http.ResponseWriter, r *http.Request) {
	p := s.kube.Load()
	if p == nil {
		writeErr(w, http.StatusServiceUnavailable, errors.New("this site serves no Kubernetes API now (kubeAPI: in site.yaml; a replica serves it while it leads)"))
		return
	}
	if q := r.URL.Query(); q.Get("watch") == "true" || q.Get("watch") == "1" || q.Get("follow") == "true" {
		if n := s.streams.Add(1); n > int64(s.httpLim.MaxStreams) {
			s.streams.Add(-1)
			s.counter.refusedStreams.Add(1)
			writeErr(w, http.StatusTooManyRequests, fmt.Errorf("too many streams open (httpLimits.maxStreams %d); retry later", s.httpLim.MaxStreams))
			return
		}
		defer s.streams.Add(-1)
		w = &deadlineWriter{ResponseWriter: w, rc: http.NewResponseController(w), d: s.httpLim.WriteTimeout.D()}
	}
	p.rp.ServeHTTP(w, r)
}

// deadlineWriter sets a write deadline before each write and flush.
type deadlineWriter struct {
	http.ResponseWriter
	rc *http.ResponseController
	d  time.Duration
}

func (w *deadlineWriter) Write(b []byte) (int, error) {
	_ = w.rc.SetWriteDeadline(time.Now().Add(w.d))
	return w.ResponseWriter.Write(b)
}

func (w *deadlineWriter) Flush() {
	_ = w.rc.SetWriteDeadline(time.Now().Add(w.d))
	_ = w.rc.Flush()
}

func (w *deadlineWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

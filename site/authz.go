package site

import (
	"fmt"
	"net/http"
	"slices"
	"strings"

	"atoll/crdt"
)

// Role is what an identity of the HTTP server is, from the charter.
type Role string

// Roles, weakest first. RoleLocal is the unix socket's caller, who holds the data dir.
const (
	RoleAnonymous Role = "anonymous"
	RoleOperator  Role = "operator"
	RoleObserver  Role = "observer"
	RoleSite      Role = "site"
	RoleAdmin     Role = "admin"
	RoleLocal     Role = "local"
)

// Identity is who made a request: a charter identity proven by a token or a client
// certificate, the socket's local caller, or nobody.
type Identity struct {
	Name       string   `json:"name"`
	Role       Role     `json:"role"`
	Namespaces []string `json:"namespaces,omitempty"` // an operator's grants ("*": all)
	Key        string   `json:"key,omitempty"`        // ed25519:<base64>
	Via        string   `json:"via"`                  // token, cookie, certificate, oidc, socket, none
	Expires    int64    `json:"expires,omitempty"`    // a token's or session's expiry, Unix seconds
	Subject    string   `json:"subject,omitempty"`    // an OpenID Connect session's subject
}

// charterIdentity returns the role k has in ch, the strongest if it has several.
func charterIdentity(ch *crdt.Charter, k crdt.PubKey) (Identity, bool) {
	id := Identity{Key: FormatKey(k)}
	if name, ok := ch.Admins[k]; ok {
		id.Name, id.Role = name, RoleAdmin
	} else if s, ok := ch.Sites[k]; ok {
		id.Name, id.Role = s.Name, RoleSite
	} else if name, ok := ch.Observers[k]; ok {
		id.Name, id.Role = name, RoleObserver
	} else if o, ok := ch.Operators[k]; ok {
		id.Name, id.Role, id.Namespaces = o.Name, RoleOperator, slices.Clone(o.Namespaces)
	} else {
		return Identity{}, false
	}
	return id, true
}

// scope returns the namespaces id may read, nil if all.
func (id Identity) scope() []string {
	if id.Role != RoleOperator || slices.Contains(id.Namespaces, "*") {
		return nil
	}
	if id.Namespaces == nil {
		return []string{}
	}
	return id.Namespaces
}

// sees reports whether id may read namespace ns.
func (id Identity) sees(ns string) bool {
	sc := id.scope()
	return sc == nil || slices.Contains(sc, ns)
}

// route is what a route serves, as far as authorization cares.
type route int

const (
	resPublic     route = iota // health, readiness, the dashboard's static files, login
	resFederation              // sites, clusters, the tip, whether a change is held, whoami: any identity
	resScoped                  // view, stream, events, audit: any identity, filtered to an operator's namespaces
	resState                   // this site's counters and heads: any identity
	resPlacement               // one workload: {namespace} must be visible
	resObject                  // one object: {kind} and {key} decide
	resSubmit                  // POST /v1/changes: identities that may write
	resMetrics                 // /metrics: observers, admins and sites
	resKube                    // /k8s/: any identity; RBAC in the site's API server decides
)

// verdict is what authorize says of one request.
type verdict struct {
	code int    // 0: allowed; else 401, 403 or 404
	msg  string // why not, for the caller
}

func (d verdict) allowed() bool { return d.code == 0 }

// authorize decides whether id may have res. For resPlacement ns is the path's
// namespace; for resObject kind and key are the path's. It is pure: every rule of the
// HTTP server's authorization is here, and TestAuthorize tables them.
//
// What an operator may not see of another namespace is 404, worded as a missing object
// is, so that existence does not leak; what no operator may read is 403.
func authorize(id Identity, res route, kind crdt.Kind, key string) verdict {
	if res == resPublic || id.Role == RoleLocal {
		return verdict{}
	}
	if id.Role == RoleAnonymous || id.Role == "" {
		return verdict{http.StatusUnauthorized, "authentication required: send a bearer token (atoll token) or a client certificate of a charter key"}
	}
	full := id.Role == RoleAdmin || id.Role == RoleSite || id.Role == RoleObserver
	switch res {
	case resFederation, resScoped, resState, resKube:
		return verdict{}
	case resSubmit:
		if id.Role == RoleObserver {
			return verdict{http.StatusForbidden, fmt.Sprintf("observer %s may not submit changes: observers write nothing", id.Name)}
		}
		return verdict{} // validity decides what each writer may write
	case resMetrics:
		if full {
			return verdict{}
		}
		return verdict{http.StatusForbidden, fmt.Sprintf("%s %s may not read /metrics (observers, admins and sites may)", id.Role, id.Name)}
	case resPlacement:
		if id.sees(kindNamespace(crdt.KindWorkload, key)) {
			return verdict{}
		}
		return verdict{http.StatusNotFound, fmt.Sprintf("no workload %q", key)}
	case resObject:
		switch kind {
		case crdt.KindCharter, crdt.KindSite, crdt.KindCluster:
			return verdict{} // operators get the charter without others' grants (charterFor)
		case crdt.KindWorkload, crdt.KindStatus:
			if id.sees(kindNamespace(kind, key)) {
				return verdict{}
			}
			return verdict{http.StatusNotFound, fmt.Sprintf("no %s %q", kind, key)}
		case crdt.KindPolicy:
			// A cluster-scoped policy may select any namespace's templates: every identity
			// reads those; a namespaced one, who sees its namespace.
			if _, ns, ok := crdt.PolicyScope(key); ok && (ns == "" || id.sees(ns)) {
				return verdict{}
			}
			return verdict{http.StatusNotFound, fmt.Sprintf("no %s %q", kind, key)}
		}
		return verdict{http.StatusNotFound, fmt.Sprintf("no %s %q", kind, key)}
	}
	panic(fmt.Sprintf("site: authorize: route %d has no rule", res))
}

// kindNamespace returns the namespace of a workload or status key ("ns/name...").
func kindNamespace(kind crdt.Kind, key string) string {
	ns, _, _ := strings.Cut(key, "/")
	return ns
}

// charterFor returns the charter object's fields id may read: all of them, or for an
// operator the federation-wide ones (name, threshold, limits, quotas, sites) and its
// own entry, never the other admins', operators' and observers' grants.
func charterFor(id Identity, obj map[string]crdt.Value) map[string]crdt.Value {
	if id.Role != RoleOperator {
		return obj
	}
	out := map[string]crdt.Value{}
	for f, v := range obj {
		switch {
		case strings.HasPrefix(f, "operator/"+id.Name+"/"):
		case strings.HasPrefix(f, "admin/"), strings.HasPrefix(f, "operator/"), strings.HasPrefix(f, "observer/"):
			continue
		}
		out[f] = v
	}
	return out
}

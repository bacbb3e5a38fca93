package site

import (
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"atoll/crdt"
)

// CharterDoc is a charter in readable form: what GET /v1/charter serves and what
// `atoll charter` shows, diffs and amends. Keys are written as FormatKey writes them.
type CharterDoc struct {
	Name        string `json:"name"`
	Threshold   int    `json:"threshold"`
	MaxReplicas int    `json:"maxReplicas,omitempty"` // 0: unset (crdt.DefaultMaxReplicas)
	// Format is the format level the federation has reached (crdt.Charter.Format); 0:
	// unset, level 1.
	Format    int               `json:"format,omitempty"`
	Admins    []CharterMember   `json:"admins"`
	Sites     []CharterSite     `json:"sites"`
	Operators []CharterOperator `json:"operators,omitempty"`
	Observers []CharterMember   `json:"observers,omitempty"`
	Quota     *CharterQuota     `json:"quota,omitempty"` // Operators unused: see CharterOperator.QuotaBytes
}

// CharterMember is an admin or an observer.
type CharterMember struct {
	Name string `json:"name"`
	Key  string `json:"key"`
}

// CharterSite is a site of the charter.
type CharterSite struct {
	Name         string `json:"name"`
	Key          string `json:"key"`
	Region       string `json:"region"`
	Jurisdiction string `json:"jurisdiction"`
	Draining     bool   `json:"draining,omitempty"` // site/<name>/drain: leaving, its share moves away
}

// CharterOperator is an operator and the namespaces it may write ("*": all).
type CharterOperator struct {
	Name       string   `json:"name"`
	Key        string   `json:"key"`
	Namespaces []string `json:"namespaces"`
	QuotaBytes uint64   `json:"quotaBytes,omitempty"`
	// ClusterScope: operator/<name>/clusterscope, cluster-scoped templates granted.
	ClusterScope bool `json:"clusterScope,omitempty"`
}

// CharterState answers GET /v1/charter: the charter in force at the site's heads, the
// tip a change on top of them takes (as GET /v1/tip), and the charter changes so far
// (left out for operators, who see only their own grant of the charter).
type CharterState struct {
	Charter CharterDoc      `json:"charter"`
	Tip     Tip             `json:"tip"`
	History []CharterChange `json:"history,omitempty"`
}

// CharterChange is one signed change of the charter, the genesis included.
type CharterChange struct {
	ID        string   `json:"id"`
	Lamport   uint64   `json:"lamport"`
	Author    string   `json:"author"`              // admin name, or the key when no charter named it
	Cosigners []string `json:"cosigners,omitempty"` // likewise
	Fields    []string `json:"fields"`              // what it set or deleted ("-field" for a delete)
	// Void: valid in its past but without effect, signed by a key that another charter
	// change revoked, or built on a void one (docs/adr/0009-revocation.md).
	Void bool `json:"void,omitempty"`
}

// CharterFields are a charter object's visible fields and their raw values.
type CharterFields map[string][]byte

// Doc parses the fields as the charter does (crdt.Charter): entries without a key are
// left out; sorted by name.
func (f CharterFields) Doc() CharterDoc {
	d := CharterDoc{Name: string(f["name"]), Admins: []CharterMember{}, Sites: []CharterSite{}}
	d.Threshold, _ = strconv.Atoi(string(f["threshold"]))
	d.MaxReplicas, _ = strconv.Atoi(string(f[crdt.MaxReplicasField]))
	d.Format, _ = strconv.Atoi(string(f[crdt.FormatField]))
	key := func(field string) (string, bool) {
		v, ok := f[field]
		if !ok || len(v) != 32 {
			return "", false
		}
		return FormatKey(crdt.PubKey(v)), true
	}
	num := func(field string) uint64 { n, _ := strconv.ParseUint(string(f[field]), 10, 64); return n }
	var q CharterQuota
	for _, name := range slices.Sorted(maps.Keys(f)) {
		parts := strings.Split(name, "/")
		switch {
		case len(parts) == 2 && parts[0] == "admin":
			if k, ok := key(name); ok {
				d.Admins = append(d.Admins, CharterMember{parts[1], k})
			}
		case len(parts) == 3 && parts[2] == "key":
			k, ok := key(name)
			if !ok {
				continue
			}
			p := parts[0] + "/" + parts[1] + "/"
			switch parts[0] {
			case "site":
				d.Sites = append(d.Sites, CharterSite{parts[1], k, string(f[p+"region"]), string(f[p+"jurisdiction"]), string(f[p+"drain"]) == "true"})
			case "operator":
				o := CharterOperator{Name: parts[1], Key: k, Namespaces: []string{}, QuotaBytes: num(p + "quota/bytes"),
					ClusterScope: string(f[p+"clusterscope"]) == "true"}
				if v := string(f[p+"namespaces"]); v != "" {
					o.Namespaces = strings.Split(v, ",")
				}
				d.Operators = append(d.Operators, o)
			case "observer":
				d.Observers = append(d.Observers, CharterMember{parts[1], k})
			}
		case name == "quota/bytes":
			q.Bytes = num(name)
		case name == "quota/objects":
			q.Objects = int(num(name))
		case len(parts) == 3 && parts[0] == "quota" && parts[1] == "objects":
			if q.Namespaces == nil {
				q.Namespaces = map[string]int{}
			}
			q.Namespaces[parts[2]] = int(num(name))
		}
	}
	if q.Bytes > 0 || q.Objects > 0 || len(q.Namespaces) > 0 {
		d.Quota = &q
	}
	return d
}

// With returns the fields after charter operations: sets and deletes, in order.
func (f CharterFields) With(ops []crdt.Op) CharterFields {
	out := maps.Clone(f)
	if out == nil {
		out = CharterFields{}
	}
	for _, op := range ops {
		switch op.Type {
		case crdt.OpSet:
			out[op.Field] = op.Value
		case crdt.OpDelete:
			delete(out, op.Field)
		}
	}
	return out
}

// charterFields extracts the raw values of a charter object as the replica shows it.
func charterFields(obj map[string]crdt.Value) CharterFields {
	f := make(CharterFields, len(obj))
	for name, v := range obj {
		f[name] = v.Bytes
	}
	return f
}

// charterHistory lists the charter changes held, in causal order; names come from the
// admin entries the changes themselves wrote. It decodes the charter changes only (few,
// and each needs m-of-n admins), never the rest of the state. Called with mu held.
func (s *Site) charterHistory() []CharterChange {
	names := map[crdt.PubKey]string{}
	name := func(k crdt.PubKey) string {
		if n, ok := names[k]; ok {
			return n
		}
		return FormatKey(k)
	}
	var out []CharterChange
	s.rep.CharterChanges(func(id crdt.Hash, b []byte) bool {
		env, err := crdt.DecodeEnvelope(b)
		if err != nil {
			return true
		}
		c := env.Change
		for _, op := range c.Ops {
			if n, ok := strings.CutPrefix(op.Field, "admin/"); ok && op.Type == crdt.OpSet && len(op.Value) == 32 {
				if _, known := names[crdt.PubKey(op.Value)]; !known {
					names[crdt.PubKey(op.Value)] = n
				}
			}
		}
		cc := CharterChange{ID: id.Hex(), Lamport: c.Lamport, Author: name(c.Author), Void: s.rep.Void(id)}
		for _, cs := range c.Cosigs {
			cc.Cosigners = append(cc.Cosigners, name(cs.Key))
		}
		for _, op := range c.Ops {
			if op.Type == crdt.OpDelete {
				cc.Fields = append(cc.Fields, "-"+op.Field)
			} else {
				cc.Fields = append(cc.Fields, op.Field)
			}
		}
		out = append(out, cc)
		return true
	})
	return out
}

// handleCharter serves GET /v1/charter (CharterState).
func (s *Site) handleCharter(w http.ResponseWriter, r *http.Request) {
	id := identityOf(r)
	s.mu.Lock()
	obj, _ := s.rep.Object(crdt.KindCharter, "")
	c := s.rep.Prepare(nil, nil)
	var hist []CharterChange
	if id.Role != RoleOperator {
		hist = s.charterHistory()
	}
	s.mu.Unlock()
	st := CharterState{Charter: charterFields(charterFor(id, obj)).Doc(), Tip: Tip{Lamport: c.Lamport, Deps: []string{}}, History: hist}
	for _, d := range c.Deps {
		st.Tip.Deps = append(st.Tip.Deps, d.Hex())
	}
	writeJSON(w, http.StatusOK, st)
}

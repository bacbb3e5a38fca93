package crdt

import (
	"slices"
	"sort"
	"strconv"
	"strings"
)

// SiteInfo is a site as the charter attests it.
type SiteInfo struct {
	Name         string
	Key          PubKey
	Region       string
	Jurisdiction string
	// Draining is site/<name>/drain: the site is leaving. Schedulers place nothing new
	// on it and move its share to the others, make-before-break.
	Draining bool
}

// OperatorInfo is an operator and the namespaces it may write ("*" for all).
type OperatorInfo struct {
	Name       string
	Key        PubKey
	Namespaces []string
	QuotaBytes uint64 // operator/<name>/quota/bytes; 0 if unset (Charter.QuotaBytes gives the one in force)
	// ClusterScope is operator/<name>/clusterscope: the operator may write cluster-scoped
	// templates (Namespaces, CRDs, ClusterRoles, ...); each site's admission still decides
	// whether it runs them.
	ClusterScope bool
}

// Allows reports whether the operator may write in namespace ns.
func (o *OperatorInfo) Allows(ns string) bool {
	for _, n := range o.Namespaces {
		if n == "*" || n == ns {
			return true
		}
	}
	return false
}

// AllowsAll reports whether the operator may write in every namespace ("*"), which a
// cluster-scoped policy needs.
func (o *OperatorInfo) AllowsAll() bool { return slices.Contains(o.Namespaces, "*") }

// Charter is the federation's constitution at some point of the causal history: who is an
// admin, a site (with region and jurisdiction), an operator, an observer; and how many admin
// signatures a charter change needs. A key is bound to the first name (in name order) that
// claims it within a role, so that a conflicting charter still decides the same everywhere.
type Charter struct {
	obj       object
	Name      string
	Threshold int
	Admins    map[PubKey]string
	Sites     map[PubKey]*SiteInfo
	Operators map[PubKey]*OperatorInfo
	Observers map[PubKey]string
	byName    map[string]*SiteInfo
	quota     quotas
}

// SiteByName returns the site with that name.
func (c *Charter) SiteByName(name string) (*SiteInfo, bool) {
	s, ok := c.byName[name]
	return s, ok
}

// SiteNames returns the names of all sites, sorted.
func (c *Charter) SiteNames() []string {
	names := make([]string, 0, len(c.byName))
	for n := range c.byName {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Jurisdiction returns the jurisdiction of the site with key k, or "" if k is not a site.
func (c *Charter) Jurisdiction(k PubKey) string {
	if s, ok := c.Sites[k]; ok {
		return s.Jurisdiction
	}
	return ""
}

// Member reports whether k has any role in the charter.
func (c *Charter) Member(k PubKey) bool {
	_, a := c.Admins[k]
	_, s := c.Sites[k]
	_, o := c.Operators[k]
	_, r := c.Observers[k]
	return a || s || o || r
}

// newCharter derives the indexes from the charter object's registers.
func newCharter(o *object) *Charter {
	c := &Charter{
		obj:       *o,
		Admins:    map[PubKey]string{},
		Sites:     map[PubKey]*SiteInfo{},
		Operators: map[PubKey]*OperatorInfo{},
		Observers: map[PubKey]string{},
		byName:    map[string]*SiteInfo{},
	}
	c.obj.fields = append([]field(nil), o.fields...)
	str := func(name string) string {
		if r, ok := o.get(name); ok {
			return string(r.val)
		}
		return ""
	}
	key := func(name string) (PubKey, bool) {
		var k PubKey
		r, ok := o.get(name)
		if !ok || len(r.val) != 32 {
			return k, false
		}
		copy(k[:], r.val)
		return k, true
	}
	c.Name = str("name")
	c.Threshold, _ = strconv.Atoi(str("threshold"))
	// Fields are sorted by name, so the first claim of a key in a role is the lowest name.
	for _, f := range o.fields {
		parts := strings.Split(f.name, "/")
		switch {
		case len(parts) == 2 && parts[0] == "admin":
			if k, ok := key(f.name); ok {
				if _, dup := c.Admins[k]; !dup {
					c.Admins[k] = parts[1]
				}
			}
		case len(parts) == 3 && parts[2] == "key":
			k, ok := key(f.name)
			if !ok {
				continue
			}
			name := parts[1]
			switch parts[0] {
			case "site":
				if _, dup := c.Sites[k]; !dup {
					s := &SiteInfo{Name: name, Key: k, Region: str("site/" + name + "/region"),
						Jurisdiction: str("site/" + name + "/jurisdiction"), Draining: str("site/"+name+"/drain") == "true"}
					c.Sites[k], c.byName[name] = s, s
				}
			case "operator":
				if _, dup := c.Operators[k]; !dup {
					var ns []string
					if v := str("operator/" + name + "/namespaces"); v != "" {
						ns = strings.Split(v, ",")
					}
					c.Operators[k] = &OperatorInfo{Name: name, Key: k, Namespaces: ns,
						ClusterScope: str("operator/"+name+"/clusterscope") == "true"}
				}
			case "observer":
				if _, dup := c.Observers[k]; !dup {
					c.Observers[k] = name
				}
			}
		}
	}
	c.parseQuotas()
	return c
}

// withChange returns the charter after applying a charter change at id.
func (c *Charter) withChange(ch *Change, id *Hash) *Charter {
	o := c.obj
	o.fields = append([]field(nil), c.obj.fields...)
	for i := range ch.Ops {
		o.apply(&ch.Ops[i], stamp{lamport: ch.Lamport, id: id, op: uint32(i)}, ch.Ops[i].Field)
	}
	return newCharter(&o)
}

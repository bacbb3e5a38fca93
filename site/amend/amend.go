// Package amend is the offline, multi-party workflow of a charter change: an amendment
// file proposed on top of a site's charter, signed by each admin on their own machine,
// and assembled into one crdt change once it holds the threshold of signatures.
//
// The file carries the exact unsigned change (author, Lamport time, dependencies,
// operations), so every admin signs the same bytes; what it says besides (the edits,
// the diff, who signed) is recomputed from that change and the charter it builds on.
// The sites' validation of the assembled change (crdt checkAuthority) is the security
// boundary: the checks here only name a mistake before anyone signs it.
package amend

import (
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"sigs.k8s.io/yaml"

	"atoll/crdt"
	"atoll/site"
)

// Kind is the kind line of an amendment file.
const Kind = "CharterAmendment"

// Amendment is one proposed charter change and the signatures gathered for it.
type Amendment struct {
	Kind        string `json:"kind"`
	Federation  string `json:"federation"`
	Description string `json:"description,omitempty"`
	// Diff is the charter before -> after, one line per entry changed: derived from Ops
	// applied to Before, for readers; Load recomputes it.
	Diff []string `json:"diff"`
	// SignedBy and Awaiting say who has signed and who still must (names of Before's
	// admins); Load recomputes them from Signatures.
	SignedBy []string `json:"signedBy"`
	Awaiting string   `json:"awaiting,omitempty"`
	// Edits are what the proposer asked for, as given to `atoll charter propose`.
	Edits Edits `json:"edits"`
	// Change is the unsigned change every admin signs, with Ops.
	Change Change `json:"change"`
	Ops    []Op   `json:"ops"`
	// Before is the charter in force at Change.Deps: its admins sign, its threshold counts.
	Before     site.CharterDoc `json:"before"`
	Signatures []Signature     `json:"signatures"`
}

// Change is the unsigned part of the charter change but its operations.
type Change struct {
	Author  string   `json:"author"` // key of the proposing admin
	Lamport uint64   `json:"lamport"`
	Deps    []string `json:"deps"` // the site's heads the proposal was built on
}

// Op is one charter operation: set (with value) or delete. Values of key fields
// (admin/<name>, <role>/<name>/key) are written as public keys, others as text.
type Op struct {
	Op    string `json:"op"`
	Field string `json:"field"`
	Value string `json:"value,omitempty"`
}

// Signature is one admin's Ed25519 signature of the change.
type Signature struct {
	Name string `json:"name"`
	Key  string `json:"key"`
	Sig  string `json:"sig"` // base64
}

// Edits are the entries an amendment adds, removes or changes.
type Edits struct {
	AddSites        []site.CharterSite     `json:"addSites,omitempty"`
	MoveSites       []site.CharterSite     `json:"moveSites,omitempty"`    // a new region or jurisdiction (Key unused)
	DrainSites      []string               `json:"drainSites,omitempty"`   // leaving: their share moves to the others
	UndrainSites    []string               `json:"undrainSites,omitempty"` // staying after all
	RemoveSites     []string               `json:"removeSites,omitempty"`
	AddOperators    []site.CharterOperator `json:"addOperators,omitempty"`
	RemoveOperators []string               `json:"removeOperators,omitempty"`
	AddObservers    []site.CharterMember   `json:"addObservers,omitempty"`
	RemoveObservers []string               `json:"removeObservers,omitempty"`
	AddAdmins       []site.CharterMember   `json:"addAdmins,omitempty"`
	RemoveAdmins    []string               `json:"removeAdmins,omitempty"`
	RotateKeys      []Rotation             `json:"rotateKeys,omitempty"`
	// GrantClusterScope and RevokeClusterScope name operators given or denied
	// cluster-scoped templates (operator/<name>/clusterscope; format level 3).
	GrantClusterScope  []string `json:"grantClusterScope,omitempty"`
	RevokeClusterScope []string `json:"revokeClusterScope,omitempty"`
	Threshold          int      `json:"threshold,omitempty"` // 0: unchanged
	// Format raises the charter's format level (docs/adr/0013-format-levels.md); 0:
	// unchanged. A level never goes down.
	Format int `json:"format,omitempty"`
}

// Rotation gives an entry of a role a new key under the same name.
type Rotation struct {
	Role string `json:"role"` // admin, site, operator or observer
	Name string `json:"name"`
	Key  string `json:"key"`
}

// Empty reports whether the edits change nothing.
func (e Edits) Empty() bool {
	return len(e.AddSites)+len(e.MoveSites)+len(e.DrainSites)+len(e.UndrainSites)+len(e.RemoveSites)+len(e.AddOperators)+len(e.RemoveOperators)+len(e.AddObservers)+
		len(e.RemoveObservers)+len(e.AddAdmins)+len(e.RemoveAdmins)+len(e.RotateKeys)+
		len(e.GrantClusterScope)+len(e.RevokeClusterScope) == 0 && e.Threshold == 0 && e.Format == 0
}

// Propose builds an amendment of edits on top of before, the charter in force at tip,
// authored by the admin with key author. It refuses edits that name what is wrong:
// duplicate or unknown names, keys in use, a charter left without admins or with a
// threshold above them.
func Propose(before site.CharterDoc, tip site.Tip, author crdt.PubKey, edits Edits) (*Amendment, error) {
	if _, ok := adminName(before, author); !ok {
		return nil, fmt.Errorf("key %s is not an admin of charter %q (admins: %s): only an admin proposes", site.FormatKey(author), before.Name, strings.Join(adminNames(before), ", "))
	}
	if edits.Empty() {
		return nil, errors.New("the amendment changes nothing")
	}
	ops, err := edits.ops(before)
	if err != nil {
		return nil, err
	}
	a := &Amendment{Kind: Kind, Federation: before.Name, Edits: edits, Before: before,
		Change: Change{Author: site.FormatKey(author), Lamport: tip.Lamport, Deps: tip.Deps}}
	for _, op := range ops {
		a.Ops = append(a.Ops, fromOp(op))
	}
	after, err := a.After()
	if err != nil {
		return nil, err
	}
	if err := checkAfter(before, after, ops); err != nil {
		return nil, err
	}
	a.refresh()
	return a, nil
}

// ops turns the edits into charter operations, checked against before.
func (e Edits) ops(before site.CharterDoc) ([]crdt.Op, error) {
	var ops []crdt.Op
	set := func(field string, v []byte) {
		ops = append(ops, crdt.Op{Type: crdt.OpSet, Kind: crdt.KindCharter, Field: field, Value: v})
	}
	del := func(fields ...string) {
		for _, f := range fields {
			ops = append(ops, crdt.Op{Type: crdt.OpDelete, Kind: crdt.KindCharter, Field: f})
		}
	}
	has := names(before)
	add := func(role, name string) error {
		if !crdt.IsDNSLabel(name) {
			return fmt.Errorf("add %s %q: a name is a DNS label (a-z, 0-9, '-')", role, name)
		}
		if has[role][name] {
			return fmt.Errorf("add %s %q: duplicate name: the charter already has %s %q", role, name, role, name)
		}
		has[role][name] = true
		return nil
	}
	known := func(verb, role, name string) error {
		if !has[role][name] {
			return fmt.Errorf("%s %s %q: unknown name: the charter's %ss are %s", verb, role, name, role, list(has[role]))
		}
		return nil
	}
	key := func(what, s string) ([]byte, error) {
		k, err := site.ParseKey(s)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", what, err)
		}
		return k[:], nil
	}
	for _, s := range e.AddSites {
		if err := add("site", s.Name); err != nil {
			return nil, err
		}
		k, err := key("add site "+s.Name, s.Key)
		if err != nil {
			return nil, err
		}
		if s.Region == "" || !crdt.IsJurisdiction(s.Jurisdiction) {
			return nil, fmt.Errorf("add site %q: give a region and a jurisdiction (letters, digits, '-'), not %q and %q", s.Name, s.Region, s.Jurisdiction)
		}
		p := "site/" + s.Name + "/"
		set(p+"key", k)
		set(p+"region", []byte(s.Region))
		set(p+"jurisdiction", []byte(s.Jurisdiction))
	}
	for _, o := range e.AddOperators {
		if err := add("operator", o.Name); err != nil {
			return nil, err
		}
		k, err := key("add operator "+o.Name, o.Key)
		if err != nil {
			return nil, err
		}
		if len(o.Namespaces) == 0 {
			return nil, fmt.Errorf("add operator %q: give its namespaces (\"*\" for all)", o.Name)
		}
		p := "operator/" + o.Name + "/"
		set(p+"key", k)
		set(p+"namespaces", []byte(strings.Join(o.Namespaces, ",")))
		if o.QuotaBytes > 0 {
			set(p+"quota/bytes", strconv.AppendUint(nil, o.QuotaBytes, 10))
		}
		if o.ClusterScope {
			set(p+"clusterscope", []byte("true"))
		}
	}
	for _, n := range e.GrantClusterScope {
		if err := known("grant cluster scope to", "operator", n); err != nil {
			return nil, err
		}
		if clusterScopeIn(before, n) {
			return nil, fmt.Errorf("grant cluster scope to operator %q: it has it already", n)
		}
		set("operator/"+n+"/clusterscope", []byte("true"))
	}
	for _, n := range e.RevokeClusterScope {
		if err := known("revoke cluster scope of", "operator", n); err != nil {
			return nil, err
		}
		if !clusterScopeIn(before, n) {
			return nil, fmt.Errorf("revoke cluster scope of operator %q: it does not have it", n)
		}
		del("operator/" + n + "/clusterscope")
	}
	for _, m := range e.AddObservers {
		if err := add("observer", m.Name); err != nil {
			return nil, err
		}
		k, err := key("add observer "+m.Name, m.Key)
		if err != nil {
			return nil, err
		}
		set("observer/"+m.Name+"/key", k)
	}
	for _, m := range e.AddAdmins {
		if err := add("admin", m.Name); err != nil {
			return nil, err
		}
		k, err := key("add admin "+m.Name, m.Key)
		if err != nil {
			return nil, err
		}
		set("admin/"+m.Name, k)
	}
	for _, r := range e.RotateKeys {
		if _, ok := has[r.Role]; !ok {
			return nil, fmt.Errorf("rotate %s/%s: unknown role %q: want admin, site, operator or observer", r.Role, r.Name, r.Role)
		}
		if err := known("rotate", r.Role, r.Name); err != nil {
			return nil, err
		}
		k, err := key("rotate "+r.Role+" "+r.Name, r.Key)
		if err != nil {
			return nil, err
		}
		set(keyField(r.Role, r.Name), k)
	}
	for _, m := range e.MoveSites {
		if err := known("move", "site", m.Name); err != nil {
			return nil, err
		}
		if m.Region == "" && m.Jurisdiction == "" {
			return nil, fmt.Errorf("move site %q: give a new region=, jurisdiction= or both", m.Name)
		}
		if m.Jurisdiction != "" && !crdt.IsJurisdiction(m.Jurisdiction) {
			return nil, fmt.Errorf("move site %q: jurisdiction %q: letters, digits and '-' only", m.Name, m.Jurisdiction)
		}
		if m.Region != "" {
			set("site/"+m.Name+"/region", []byte(m.Region))
		}
		if m.Jurisdiction != "" {
			set("site/"+m.Name+"/jurisdiction", []byte(m.Jurisdiction))
		}
	}
	for _, n := range e.DrainSites {
		if err := known("drain", "site", n); err != nil {
			return nil, err
		}
		if drainingIn(before, n) {
			return nil, fmt.Errorf("drain site %q: it is draining already", n)
		}
		set("site/"+n+"/drain", []byte("true"))
	}
	for _, n := range e.UndrainSites {
		if err := known("undrain", "site", n); err != nil {
			return nil, err
		}
		if !drainingIn(before, n) {
			return nil, fmt.Errorf("undrain site %q: it is not draining", n)
		}
		del("site/" + n + "/drain")
	}
	for _, rm := range []struct {
		role  string
		names []string
		extra []string
	}{
		{"site", e.RemoveSites, []string{"region", "jurisdiction", "drain"}},
		{"operator", e.RemoveOperators, []string{"namespaces", "quota/bytes"}},
		{"observer", e.RemoveObservers, nil},
		{"admin", e.RemoveAdmins, nil},
	} {
		for _, n := range rm.names {
			if err := known("remove", rm.role, n); err != nil {
				return nil, err
			}
			del(keyField(rm.role, n))
			for _, x := range rm.extra {
				del(rm.role + "/" + n + "/" + x)
			}
			if rm.role == "operator" && clusterScopeIn(before, n) {
				del("operator/" + n + "/clusterscope") // a later operator of the name starts without it
			}
			delete(has[rm.role], n)
		}
	}
	if e.Threshold != 0 {
		if e.Threshold < 0 {
			return nil, fmt.Errorf("threshold %d: want at least 1", e.Threshold)
		}
		set("threshold", []byte(strconv.Itoa(e.Threshold)))
	}
	if e.Format != 0 {
		cur := max(before.Format, 1)
		switch {
		case e.Format < 1 || e.Format > crdt.MaxFormatValue:
			return nil, fmt.Errorf("format %d: a level is from 1 to %d", e.Format, crdt.MaxFormatValue)
		case e.Format < cur:
			return nil, fmt.Errorf("format %d: the charter is at level %d, and a level never goes down (what it enabled stays in the changes that used it)", e.Format, cur)
		case e.Format == cur:
			return nil, fmt.Errorf("format %d: the charter is at that level already", e.Format)
		}
		ops = append(ops, crdt.FormatOp(e.Format))
	}
	return ops, nil
}

// checkAfter refuses a charter the sites would refuse, or one whose new keys are
// already someone else's.
func checkAfter(before, after site.CharterDoc, ops []crdt.Op) error {
	if len(after.Admins) == 0 {
		return fmt.Errorf("the amendment would leave no admin: nobody could change the charter again")
	}
	if after.Threshold > len(after.Admins) {
		return fmt.Errorf("threshold %d is above the number of admins (%d: %s)", after.Threshold, len(after.Admins), strings.Join(adminNames(after), ", "))
	}
	holders := map[string][]string{}
	for _, e := range entries(after) {
		holders[e.key] = append(holders[e.key], e.role+" "+e.name)
	}
	for _, op := range ops {
		if op.Type != crdt.OpSet || !isKeyField(op.Field) {
			continue
		}
		k := site.FormatKey(crdt.PubKey(op.Value))
		if h := holders[k]; len(h) > 1 {
			return fmt.Errorf("key %s is already used: %s", k, strings.Join(h, " and "))
		}
	}
	return nil
}

// After returns the charter the amendment leaves: Before with Ops applied.
func (a *Amendment) After() (site.CharterDoc, error) {
	ops, err := a.ops()
	if err != nil {
		return site.CharterDoc{}, err
	}
	f, err := Fields(a.Before)
	if err != nil {
		return site.CharterDoc{}, err
	}
	return f.With(ops).Doc(), nil
}

// Unsigned returns the change every admin signs.
func (a *Amendment) Unsigned() (*crdt.Change, error) {
	author, err := site.ParseKey(a.Change.Author)
	if err != nil {
		return nil, fmt.Errorf("change.author: %w", err)
	}
	ops, err := a.ops()
	if err != nil {
		return nil, err
	}
	c := &crdt.Change{Author: author, Lamport: a.Change.Lamport, Ops: ops}
	for _, d := range a.Change.Deps {
		h, err := crdt.ParseHash(d)
		if err != nil {
			return nil, fmt.Errorf("change.deps: %w", err)
		}
		c.Deps = append(c.Deps, h)
	}
	if c.Lamport == 0 || len(c.Deps) == 0 {
		return nil, errors.New("change: a charter amendment builds on a site's heads: deps and lamport are required")
	}
	return c, nil
}

// Sign adds s's signature. It refuses a key that is not an admin of Before and an
// admin who already signed.
func (a *Amendment) Sign(s *crdt.Signer) error {
	k := s.Public()
	name, ok := adminName(a.Before, k)
	if !ok {
		return fmt.Errorf("key %s is not an admin of charter %q (admins: %s)", site.FormatKey(k), a.Before.Name, strings.Join(adminNames(a.Before), ", "))
	}
	for _, sg := range a.Signatures {
		if sg.Key == site.FormatKey(k) {
			return fmt.Errorf("admin %s has already signed this amendment", name)
		}
	}
	c, err := a.Unsigned()
	if err != nil {
		return err
	}
	sig := s.SignChange(c)
	a.Signatures = append(a.Signatures, Signature{Name: name, Key: site.FormatKey(k), Sig: base64.StdEncoding.EncodeToString(sig[:])})
	a.refresh()
	return nil
}

// signatures verifies every signature and returns the author's and the others'.
func (a *Amendment) signatures(c *crdt.Change) (author *[64]byte, cosigs []crdt.Cosig, err error) {
	seen := map[crdt.PubKey]bool{}
	for i, sg := range a.Signatures {
		k, err := site.ParseKey(sg.Key)
		if err != nil {
			return nil, nil, fmt.Errorf("signatures[%d]: %w", i, err)
		}
		b, err := base64.StdEncoding.DecodeString(sg.Sig)
		if err != nil || len(b) != 64 {
			return nil, nil, fmt.Errorf("signatures[%d] (%s): want 64 bytes in base64", i, sg.Name)
		}
		sig := [64]byte(b)
		if !crdt.VerifyChange(c, k, sig) {
			return nil, nil, fmt.Errorf("signatures[%d] (%s): does not verify: it signs another change", i, sg.Name)
		}
		if _, ok := adminName(a.Before, k); !ok {
			return nil, nil, fmt.Errorf("signatures[%d] (%s): key %s is not an admin of the charter", i, sg.Name, sg.Key)
		}
		if seen[k] {
			return nil, nil, fmt.Errorf("signatures[%d]: %s signs twice", i, sg.Name)
		}
		seen[k] = true
		if k == c.Author {
			author = &sig
		} else {
			cosigs = append(cosigs, crdt.Cosig{Key: k, Sig: sig})
		}
	}
	return author, cosigs, nil
}

// Envelope assembles the signed change, once it holds the threshold of Before's admin
// signatures, the author's among them.
func (a *Amendment) Envelope() (*crdt.Envelope, error) {
	c, err := a.Unsigned()
	if err != nil {
		return nil, err
	}
	author, cosigs, err := a.signatures(c)
	if err != nil {
		return nil, err
	}
	if n := len(a.Signatures); n < a.Before.Threshold || author == nil {
		return nil, fmt.Errorf("not enough signatures: %d of the %d charter %q needs (signed: %s; awaiting %s)",
			n, a.Before.Threshold, a.Before.Name, orNone(a.SignedBy), a.Awaiting)
	}
	return crdt.Assemble(c, *author, cosigs)
}

// refresh recomputes the derived fields: the diff and who signed.
func (a *Amendment) refresh() {
	if after, err := a.After(); err == nil {
		a.Diff = Diff(a.Before, after)
	}
	a.SignedBy = []string{}
	signed := map[string]bool{}
	for _, sg := range a.Signatures {
		a.SignedBy = append(a.SignedBy, sg.Name)
		signed[sg.Key] = true
	}
	a.Awaiting = ""
	need := a.Before.Threshold - len(a.Signatures)
	if !signed[a.Change.Author] {
		name, _ := adminNameString(a.Before, a.Change.Author)
		a.Awaiting = fmt.Sprintf("the author %s (%d signatures in all)", name, a.Before.Threshold)
		return
	}
	if need <= 0 {
		return
	}
	var rest []string
	for _, m := range a.Before.Admins {
		if !signed[m.Key] {
			rest = append(rest, m.Name)
		}
	}
	a.Awaiting = fmt.Sprintf("%d more of %s", need, strings.Join(rest, ", "))
}

// Load reads an amendment file (YAML or JSON) and recomputes its derived fields.
func Load(b []byte) (*Amendment, error) {
	var a Amendment
	if err := yaml.UnmarshalStrict(b, &a); err != nil {
		return nil, err
	}
	if a.Kind != Kind {
		return nil, fmt.Errorf("kind %q: not an amendment file (want kind: %s)", a.Kind, Kind)
	}
	if _, err := a.Unsigned(); err != nil {
		return nil, err
	}
	a.refresh()
	return &a, nil
}

// Marshal writes the amendment as YAML.
func (a *Amendment) Marshal() ([]byte, error) { return yaml.Marshal(a) }

func (a *Amendment) ops() ([]crdt.Op, error) {
	out := make([]crdt.Op, 0, len(a.Ops))
	for i, o := range a.Ops {
		op := crdt.Op{Kind: crdt.KindCharter, Field: o.Field}
		switch o.Op {
		case "set":
			op.Type = crdt.OpSet
			if isKeyField(o.Field) {
				k, err := site.ParseKey(o.Value)
				if err != nil {
					return nil, fmt.Errorf("ops[%d] %s: %w", i, o.Field, err)
				}
				op.Value = k[:]
			} else {
				op.Value = []byte(o.Value)
			}
		case "delete":
			op.Type = crdt.OpDelete
		default:
			return nil, fmt.Errorf("ops[%d]: op %q: want set or delete", i, o.Op)
		}
		out = append(out, op)
	}
	return out, nil
}

func fromOp(op crdt.Op) Op {
	o := Op{Op: op.Type.String(), Field: op.Field}
	if op.Type == crdt.OpSet {
		if isKeyField(op.Field) && len(op.Value) == 32 {
			o.Value = site.FormatKey(crdt.PubKey(op.Value))
		} else {
			o.Value = string(op.Value)
		}
	}
	return o
}

// isKeyField reports whether a charter field holds a public key.
func isKeyField(f string) bool {
	parts := strings.Split(f, "/")
	return len(parts) == 2 && parts[0] == "admin" || len(parts) == 3 && parts[2] == "key"
}

func keyField(role, name string) string {
	if role == "admin" {
		return "admin/" + name
	}
	return role + "/" + name + "/key"
}

// Fields returns the charter fields a document describes (site.CharterFields.Doc inverted).
func Fields(d site.CharterDoc) (site.CharterFields, error) {
	f := site.CharterFields{"name": []byte(d.Name), "threshold": []byte(strconv.Itoa(d.Threshold))}
	if d.MaxReplicas > 0 {
		f[crdt.MaxReplicasField] = []byte(strconv.Itoa(d.MaxReplicas))
	}
	if d.Format > 0 {
		f[crdt.FormatField] = []byte(strconv.Itoa(d.Format))
	}
	for _, e := range entries(d) {
		k, err := site.ParseKey(e.key)
		if err != nil {
			return nil, fmt.Errorf("before: %s %s: %w", e.role, e.name, err)
		}
		f[keyField(e.role, e.name)] = k[:]
	}
	for _, s := range d.Sites {
		f["site/"+s.Name+"/region"], f["site/"+s.Name+"/jurisdiction"] = []byte(s.Region), []byte(s.Jurisdiction)
		if s.Draining {
			f["site/"+s.Name+"/drain"] = []byte("true")
		}
	}
	for _, o := range d.Operators {
		f["operator/"+o.Name+"/namespaces"] = []byte(strings.Join(o.Namespaces, ","))
		if o.QuotaBytes > 0 {
			f["operator/"+o.Name+"/quota/bytes"] = strconv.AppendUint(nil, o.QuotaBytes, 10)
		}
		if o.ClusterScope {
			f["operator/"+o.Name+"/clusterscope"] = []byte("true")
		}
	}
	if q := d.Quota; q != nil {
		if q.Bytes > 0 {
			f["quota/bytes"] = strconv.AppendUint(nil, q.Bytes, 10)
		}
		if q.Objects > 0 {
			f["quota/objects"] = []byte(strconv.Itoa(q.Objects))
		}
		for ns, n := range q.Namespaces {
			f["quota/objects/"+ns] = []byte(strconv.Itoa(n))
		}
	}
	return f, nil
}

type entry struct{ role, name, key string }

// entries lists every named key of a charter, by role.
func entries(d site.CharterDoc) []entry {
	var out []entry
	for _, m := range d.Admins {
		out = append(out, entry{"admin", m.Name, m.Key})
	}
	for _, s := range d.Sites {
		out = append(out, entry{"site", s.Name, s.Key})
	}
	for _, o := range d.Operators {
		out = append(out, entry{"operator", o.Name, o.Key})
	}
	for _, m := range d.Observers {
		out = append(out, entry{"observer", m.Name, m.Key})
	}
	return out
}

func names(d site.CharterDoc) map[string]map[string]bool {
	out := map[string]map[string]bool{"admin": {}, "site": {}, "operator": {}, "observer": {}}
	for _, e := range entries(d) {
		out[e.role][e.name] = true
	}
	return out
}

// clusterScopeIn reports whether the charter grants the operator cluster scope.
func clusterScopeIn(d site.CharterDoc, name string) bool {
	for _, o := range d.Operators {
		if o.Name == name {
			return o.ClusterScope
		}
	}
	return false
}

// drainingIn reports whether the charter marks the site as draining.
func drainingIn(d site.CharterDoc, name string) bool {
	for _, s := range d.Sites {
		if s.Name == name {
			return s.Draining
		}
	}
	return false
}

func adminName(d site.CharterDoc, k crdt.PubKey) (string, bool) {
	return adminNameString(d, site.FormatKey(k))
}

func adminNameString(d site.CharterDoc, k string) (string, bool) {
	for _, m := range d.Admins {
		if m.Key == k {
			return m.Name, true
		}
	}
	return k, false
}

func adminNames(d site.CharterDoc) []string {
	var out []string
	for _, m := range d.Admins {
		out = append(out, m.Name)
	}
	return out
}

func list(set map[string]bool) string {
	if len(set) == 0 {
		return "none"
	}
	var out []string
	for n := range set {
		out = append(out, n)
	}
	slices.Sort(out)
	return strings.Join(out, ", ")
}

func orNone(s []string) string {
	if len(s) == 0 {
		return "none"
	}
	return strings.Join(s, ", ")
}

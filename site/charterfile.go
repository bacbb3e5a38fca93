package site

import (
	"fmt"
	"os"

	"sigs.k8s.io/yaml"

	"atoll/crdt"
)

// CharterFile is the YAML description of a federation's first charter (federation.yaml),
// from which `atoll keys charter` signs the genesis change.
type CharterFile struct {
	Name      string `json:"name"`
	Threshold int    `json:"threshold"` // admin signatures a charter change needs
	// Format is the format level the federation starts at (docs/adr/0013); absent, the
	// highest this release implements (crdt.MaxFormat): a new federation has no site of
	// an earlier release.
	Format int `json:"format,omitempty"`
	Admins []struct {
		Name string `json:"name"`
		Key  string `json:"key"`
	} `json:"admins"`
	Sites []struct {
		Name         string `json:"name"`
		Key          string `json:"key"`
		Region       string `json:"region"`
		Jurisdiction string `json:"jurisdiction"`
	} `json:"sites"`
	Operators []CharterFileOperator `json:"operators,omitempty"`
	Observers []struct {
		Name string `json:"name"`
		Key  string `json:"key"`
	} `json:"observers,omitempty"`
	// Quota is written into the charter as quota/* fields (docs/adr/0006-quotas.md).
	// Absent, the genesis gets crdt.DefaultQuota(); present, exactly its non-zero fields
	// (`quota: {}` for none).
	Quota *CharterQuota `json:"quota,omitempty"`
}

// CharterFileOperator is an operator of a federation.yaml.
type CharterFileOperator struct {
	Name       string   `json:"name"`
	Key        string   `json:"key"`
	Namespaces []string `json:"namespaces"`
	// ClusterScope grants cluster-scoped templates (Namespaces, CRDs, ClusterRoles...).
	ClusterScope bool `json:"clusterScope,omitempty"`
}

// CharterQuota is the quota section of a federation.yaml.
type CharterQuota struct {
	Bytes      uint64            `json:"bytes,omitempty"`      // bytes of change headers each operator may store
	Objects    int               `json:"objects,omitempty"`    // live workloads per namespace
	Namespaces map[string]int    `json:"namespaces,omitempty"` // live workloads of particular namespaces
	Operators  map[string]uint64 `json:"operators,omitempty"`  // byte quotas of particular operators, by name
}

// LoadCharterFile reads a federation.yaml into a charter spec.
func LoadCharterFile(path string) (crdt.CharterSpec, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return crdt.CharterSpec{}, fmt.Errorf("charter file: %w", err)
	}
	var f CharterFile
	if err := yaml.UnmarshalStrict(b, &f); err != nil {
		return crdt.CharterSpec{}, fmt.Errorf("charter file %s: %w", path, err)
	}
	spec, err := f.Spec()
	if err != nil {
		return spec, fmt.Errorf("charter file %s: %w", path, err)
	}
	return spec, nil
}

// Spec converts the file's entries, parsing every key.
func (f CharterFile) Spec() (crdt.CharterSpec, error) {
	spec := crdt.CharterSpec{Name: f.Name, Threshold: f.Threshold, Quota: crdt.DefaultQuota(), Format: f.Format}
	switch {
	case f.Format == 0:
		spec.Format = crdt.MaxFormat
	case f.Format < 0 || f.Format > crdt.MaxFormat:
		return spec, fmt.Errorf("format %d: this release implements levels 1 to %d", f.Format, crdt.MaxFormat)
	}
	if q := f.Quota; q != nil {
		spec.Quota = crdt.Quota{Bytes: q.Bytes, Objects: q.Objects, Namespaces: q.Namespaces}
	}
	key := func(role, name, s string) (crdt.PubKey, error) {
		k, err := ParseKey(s)
		if err != nil {
			return k, fmt.Errorf("%s %q: %w", role, name, err)
		}
		return k, nil
	}
	for _, a := range f.Admins {
		k, err := key("admin", a.Name, a.Key)
		if err != nil {
			return spec, err
		}
		spec.Admins = append(spec.Admins, crdt.Member{Name: a.Name, Key: k})
	}
	for _, s := range f.Sites {
		k, err := key("site", s.Name, s.Key)
		if err != nil {
			return spec, err
		}
		spec.Sites = append(spec.Sites, crdt.SiteInfo{Name: s.Name, Key: k, Region: s.Region, Jurisdiction: s.Jurisdiction})
	}
	for _, o := range f.Operators {
		k, err := key("operator", o.Name, o.Key)
		if err != nil {
			return spec, err
		}
		info := crdt.OperatorInfo{Name: o.Name, Key: k, Namespaces: o.Namespaces, ClusterScope: o.ClusterScope}
		if f.Quota != nil {
			info.QuotaBytes = f.Quota.Operators[o.Name]
		}
		spec.Operators = append(spec.Operators, info)
	}
	for _, o := range f.Observers {
		k, err := key("observer", o.Name, o.Key)
		if err != nil {
			return spec, err
		}
		spec.Observers = append(spec.Observers, crdt.Member{Name: o.Name, Key: k})
	}
	return spec, nil
}

// LoadGenesis reads a genesis change written by `atoll keys charter`.
func LoadGenesis(path string) (*crdt.Envelope, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("genesis: %w", err)
	}
	env, err := crdt.DecodeEnvelope(b)
	if err != nil {
		return nil, fmt.Errorf("genesis %s: %w", path, err)
	}
	return env, nil
}

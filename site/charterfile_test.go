package site

import (
	"os"
	"path/filepath"
	"testing"

	"atoll/crdt"
)

// A federation.yaml without a quota section gets the default quotas; with one, exactly
// what it says, per-operator values included; the genesis signed from it carries them.
func TestCharterFileQuota(t *testing.T) {
	admin := crdt.SignerFromSeed(make([]byte, 32))
	op := crdt.SignerFromSeed(append(make([]byte, 31), 1))
	head := "name: q\nthreshold: 1\nadmins:\n- {name: a, key: \"" + FormatKey(admin.Public()) + "\"}\n" +
		"operators:\n- {name: ops, key: \"" + FormatKey(op.Public()) + "\", namespaces: [shop]}\n"
	for _, tc := range []struct {
		name, yaml string
		want       crdt.Quota
		opBytes    uint64
		objects    int
	}{
		{"default", head, crdt.DefaultQuota(), crdt.DefaultQuotaBytes, crdt.DefaultQuotaObjects},
		{"none", head + "quota: {}\n", crdt.Quota{}, 0, 0},
		{"explicit", head + "quota: {bytes: 1000, objects: 5, operators: {ops: 2000}}\n", crdt.Quota{Bytes: 1000, Objects: 5}, 2000, 5},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "federation.yaml")
			if err := os.WriteFile(path, []byte(tc.yaml), 0o600); err != nil {
				t.Fatal(err)
			}
			spec, err := LoadCharterFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if spec.Quota.Bytes != tc.want.Bytes || spec.Quota.Objects != tc.want.Objects {
				t.Errorf("quota %+v, want %+v", spec.Quota, tc.want)
			}
			env, err := crdt.NewGenesis(spec, admin)
			if err != nil {
				t.Fatal(err)
			}
			r, err := crdt.NewReplica(crdt.Config{Genesis: env.Encode()})
			if err != nil {
				t.Fatal(err)
			}
			got, ok := r.Charter().QuotaBytes(op.Public())
			if ok != (tc.opBytes > 0) || got != tc.opBytes {
				t.Errorf("operator ops: quota %d, %v; want %d", got, ok, tc.opBytes)
			}
			if n, _ := r.Charter().QuotaObjects("shop"); n != tc.objects {
				t.Errorf("objects in shop: %d, want %d", n, tc.objects)
			}
		})
	}
}

package interpret

import (
	"errors"
	"fmt"
	"strings"

	lua "github.com/yuin/gopher-lua"
	"k8s.io/apimachinery/pkg/api/resource"
)

// Object is a Kubernetes object as JSON decodes it.
type Object = map[string]any

// Requirements are what one replica of an object needs: resource requests (quantities)
// and, as the script gave it, where it may run.
type Requirements struct {
	ResourceRequest map[string]resource.Quantity
	NodeClaim       map[string]any
}

// StatusItem is one cluster's report of an object, as AggregateStatus receives it.
type StatusItem struct {
	ClusterName string
	Status      map[string]any
	Applied     bool
	Health      string // Healthy, Unhealthy or Unknown
}

// Dependency is an object another depends on, in the same namespace.
type Dependency struct {
	APIVersion, Kind, Namespace, Name string
}

// ErrNotCustomized is returned for an operation the customization does not define.
var ErrNotCustomized = errors.New("not customized")

// script returns the script of op, or ErrNotCustomized.
func (c *Customization) script(op Op) (string, error) {
	s, ok := c.Scripts[op]
	if !ok {
		return "", fmt.Errorf("%s %s: %w", c.Name, op, ErrNotCustomized)
	}
	return s, nil
}

// run calls op's function with args and gives its results to use.
func (c *Customization) run(op Op, nret int, args []any, use func(L *lua.LState, rets []lua.LValue) error) error {
	s, err := c.script(op)
	if err != nil {
		return err
	}
	err = call(s, functions[op], nret, func(L *lua.LState) ([]lua.LValue, error) {
		out := make([]lua.LValue, len(args))
		for i, a := range args {
			v, err := toLua(L, a, 0)
			if err != nil {
				return nil, fmt.Errorf("argument %d: %w", i+1, err)
			}
			out[i] = v
		}
		return out, nil
	}, use)
	if err != nil {
		return fmt.Errorf("customization %s, %s: %w", c.Name, functions[op], err)
	}
	return nil
}

// GetReplicas returns the replicas obj asks for and what each needs.
func (c *Customization) GetReplicas(obj Object) (int64, Requirements, error) {
	var n int64
	var req Requirements
	err := c.run(OpReplicaResource, 2, []any{obj}, func(L *lua.LState, rets []lua.LValue) error {
		num, ok := rets[0].(lua.LNumber)
		if !ok || float64(num) != float64(int64(num)) || num < 0 || num > MaxReplicas {
			return fmt.Errorf("replicas %v: want a whole number from 0 to %d", rets[0], MaxReplicas)
		}
		n = int64(num)
		if rets[1] == lua.LNil {
			return nil
		}
		v, err := fromLua(rets[1], nil, "requirements", 0)
		if err != nil {
			return err
		}
		m, ok := v.(map[string]any)
		if !ok {
			return fmt.Errorf("requirements: want a table of resourceRequest and nodeClaim, got %T", v)
		}
		for k := range m {
			if k != "resourceRequest" && k != "nodeClaim" {
				return fmt.Errorf("requirements: unknown field %q", k)
			}
		}
		if rr, ok := m["resourceRequest"].(map[string]any); ok {
			req.ResourceRequest = map[string]resource.Quantity{}
			for name, q := range rr {
				parsed, err := resource.ParseQuantity(fmt.Sprint(q))
				if err != nil {
					return fmt.Errorf("requirements.resourceRequest.%s: %q is not a quantity", name, fmt.Sprint(q))
				}
				req.ResourceRequest[name] = parsed
			}
		} else if m["resourceRequest"] != nil {
			return errors.New("requirements.resourceRequest: want a table of quantities")
		}
		req.NodeClaim, _ = m["nodeClaim"].(map[string]any)
		return nil
	})
	return n, req, err
}

// ReviseReplica returns obj with its replicas set to n.
func (c *Customization) ReviseReplica(obj Object, n int64) (Object, error) {
	return c.object(OpReplicaRevision, obj, obj, n)
}

// Retain returns desired with what the member cluster's observed copy keeps.
func (c *Customization) Retain(desired, observed Object) (Object, error) {
	return c.object(OpRetention, desired, desired, observed)
}

// AggregateStatus returns desired with its status aggregated from the clusters' items.
func (c *Customization) AggregateStatus(desired Object, items []StatusItem) (Object, error) {
	list := make([]any, 0, len(items))
	for _, it := range items {
		list = append(list, map[string]any{"clusterName": it.ClusterName, "status": it.Status, "applied": it.Applied, "health": it.Health})
	}
	return c.object(OpStatusAggregate, desired, desired, list)
}

// object calls op, which returns an object that must keep the identity of like.
func (c *Customization) object(op Op, like Object, args ...any) (Object, error) {
	var out Object
	err := c.run(op, 1, args, func(L *lua.LState, rets []lua.LValue) error {
		v, err := fromLua(rets[0], like, "result", 0)
		if err != nil {
			return err
		}
		m, ok := v.(map[string]any)
		if !ok {
			return fmt.Errorf("result: want an object, got %v", rets[0].Type())
		}
		if err := sameIdentity(like, m); err != nil {
			return err
		}
		out = m
		return nil
	})
	return out, err
}

// sameIdentity refuses an object whose apiVersion, kind, namespace or name differ from
// like's: a script may change an object, not turn it into another.
func sameIdentity(like, got Object) error {
	for _, f := range []string{"apiVersion", "kind", "metadata.namespace", "metadata.name"} {
		if a, b := field(like, f), field(got, f); a != b {
			return fmt.Errorf("result: %s %q, want %q (a script may not change what the object is)", f, b, a)
		}
	}
	return nil
}

func field(o Object, path string) string {
	var v any = o
	for _, k := range strings.Split(path, ".") {
		m, _ := v.(map[string]any)
		v = m[k]
	}
	s, _ := v.(string)
	return s
}

// ReflectStatus returns the status to report of a member cluster's object.
func (c *Customization) ReflectStatus(observed Object) (map[string]any, error) {
	var out map[string]any
	err := c.run(OpStatusReflection, 1, []any{observed}, func(L *lua.LState, rets []lua.LValue) error {
		if rets[0] == lua.LNil {
			return nil
		}
		ref, _ := observed["status"]
		v, err := fromLua(rets[0], ref, "status", 0)
		if err != nil {
			return err
		}
		m, ok := v.(map[string]any)
		if !ok {
			return fmt.Errorf("status: want a table, got %v", rets[0].Type())
		}
		out = m
		return nil
	})
	return out, err
}

// InterpretHealth says whether a member cluster's object is healthy.
func (c *Customization) InterpretHealth(observed Object) (bool, error) {
	var healthy bool
	err := c.run(OpHealth, 1, []any{observed}, func(L *lua.LState, rets []lua.LValue) error {
		b, ok := rets[0].(lua.LBool)
		if !ok {
			return fmt.Errorf("health: want true or false, got %v", rets[0].Type())
		}
		healthy = bool(b)
		return nil
	})
	return healthy, err
}

// GetDependencies lists the objects desired depends on, all in its namespace.
func (c *Customization) GetDependencies(desired Object) ([]Dependency, error) {
	var out []Dependency
	ns := field(desired, "metadata.namespace")
	err := c.run(OpDependencies, 1, []any{desired}, func(L *lua.LState, rets []lua.LValue) error {
		if rets[0] == lua.LNil {
			return nil
		}
		v, err := fromLua(rets[0], []any{}, "dependencies", 0)
		if err != nil {
			return err
		}
		list, ok := v.([]any)
		if !ok {
			return fmt.Errorf("dependencies: want a list, got %v", rets[0].Type())
		}
		if len(list) > MaxDependencies {
			return fmt.Errorf("dependencies: %d, above the limit of %d", len(list), MaxDependencies)
		}
		for i, e := range list {
			m, _ := e.(map[string]any)
			d := Dependency{APIVersion: field(m, "apiVersion"), Kind: field(m, "kind"), Namespace: field(m, "namespace"), Name: field(m, "name")}
			switch {
			case d.APIVersion == "" || d.Kind == "" || d.Name == "":
				return fmt.Errorf("dependencies[%d]: apiVersion, kind and name are required", i)
			case d.Namespace != "" && d.Namespace != ns:
				return fmt.Errorf("dependencies[%d]: namespace %q, want the object's own (%q)", i, d.Namespace, ns)
			}
			d.Namespace = ns
			out = append(out, d)
		}
		return nil
	})
	return out, err
}

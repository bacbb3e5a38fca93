package scheduler

import (
	"reflect"
	"testing"
	"time"
)

// fill sets every field reachable from v to a value that is not its zero: pointers
// allocated, slices and maps of one element, strings "a", numbers 1, booleans true.
func fill(v reflect.Value) {
	switch v.Kind() {
	case reflect.Pointer:
		v.Set(reflect.New(v.Type().Elem()))
		fill(v.Elem())
	case reflect.Struct:
		if v.Type() == reflect.TypeFor[time.Time]() {
			v.Set(reflect.ValueOf(t0))
			return
		}
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				fill(v.Field(i))
			}
		}
	case reflect.Slice:
		v.Set(reflect.MakeSlice(v.Type(), 1, 1))
		fill(v.Index(0))
	case reflect.Map:
		k, e := reflect.New(v.Type().Key()).Elem(), reflect.New(v.Type().Elem()).Elem()
		fill(k)
		fill(e)
		v.Set(reflect.MakeMap(v.Type()))
		v.SetMapIndex(k, e)
	case reflect.String:
		v.SetString("a")
	case reflect.Int, reflect.Int32, reflect.Int64:
		v.SetInt(1)
	case reflect.Uint64:
		v.SetUint(1)
	case reflect.Bool:
		v.SetBool(true)
	default:
		panic("fill: unexpected kind " + v.Kind().String() + " of " + v.Type().String())
	}
}

// leaves calls f with the path of every leaf field reachable from v, once f may change
// it, and restores it after.
func leaves(v reflect.Value, path string, f func(path string, change func())) {
	switch v.Kind() {
	case reflect.Pointer:
		leaves(v.Elem(), path, f)
	case reflect.Struct:
		if v.Type() == reflect.TypeFor[time.Time]() {
			f(path, func() { v.Set(reflect.ValueOf(t0.Add(time.Second))) })
			return
		}
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				leaves(v.Field(i), path+"."+v.Type().Field(i).Name, f)
			}
		}
	case reflect.Slice:
		leaves(v.Index(0), path+"[0]", f)
		f(path+" (length)", func() { v.Set(reflect.Append(v, v.Index(0))) })
	case reflect.Map:
		k := v.MapKeys()[0]
		e := reflect.New(v.Type().Elem()).Elem()
		e.Set(v.MapIndex(k))
		switch e.Kind() {
		case reflect.String:
			f(path+"[value]", func() { v.SetMapIndex(k, reflect.ValueOf("b").Convert(e.Type())) })
		case reflect.Struct, reflect.Int64:
			f(path+"[value]", func() { v.SetMapIndex(k, reflect.Zero(e.Type())) })
		}
		f(path+"[key]", func() {
			v.SetMapIndex(k, reflect.Value{})
			v.SetMapIndex(reflect.ValueOf("b").Convert(k.Type()), e)
		})
	default:
		f(path, func() {
			switch v.Kind() {
			case reflect.String:
				v.SetString("b")
			case reflect.Bool:
				v.SetBool(false)
			case reflect.Uint64:
				v.SetUint(2)
			default:
				v.SetInt(2)
			}
		})
	}
}

// Changing any field a workload's plan may read changes its fingerprint: a field added to
// Workload or Policy without being hashed fails here, and would otherwise leave stale
// plans (Replanner). Key and Version name the workload; they are not read.
func TestFingerprintCoversWorkload(t *testing.T) {
	f := newFingerprinter()
	n := 0
	shape := &Workload{}
	fill(reflect.ValueOf(shape).Elem())
	leaves(reflect.ValueOf(shape).Elem(), "Workload", func(path string, _ func()) {
		w := &Workload{}
		fill(reflect.ValueOf(w).Elem())
		before := f.of(w)
		// change the same leaf of this fresh copy: walk it again to find it
		leaves(reflect.ValueOf(w).Elem(), "Workload", func(p string, ch func()) {
			if p == path {
				ch()
			}
		})
		if path != "Workload.Key" && path != "Workload.Version" && f.of(w) == before {
			t.Errorf("changing %s leaves the fingerprint as it was", path)
		}
		n++
	})
	if n < 40 {
		t.Errorf("only %d fields walked", n)
	}
}

// Changing any field of a policy makes it unequal to what it was: a field added to
// Policy without being compared fails here (Policy.Equal).
func TestPolicyEqualCoversPolicy(t *testing.T) {
	n := 0
	shape := &Policy{}
	fill(reflect.ValueOf(shape).Elem())
	if !shape.Equal(shape) {
		t.Fatal("a policy is not equal to itself")
	}
	leaves(reflect.ValueOf(shape).Elem(), "Policy", func(path string, _ func()) {
		p, q := &Policy{}, &Policy{}
		fill(reflect.ValueOf(p).Elem())
		fill(reflect.ValueOf(q).Elem())
		if !p.Equal(q) || !q.Equal(p) {
			t.Fatalf("two policies filled alike are not equal")
		}
		leaves(reflect.ValueOf(q).Elem(), "Policy", func(x string, ch func()) {
			if x == path {
				ch()
			}
		})
		if p.Equal(q) || q.Equal(p) {
			t.Errorf("changing %s leaves the policy equal", path)
		}
		n++
	})
	if n < 40 {
		t.Errorf("only %d fields walked", n)
	}
	if !(&Policy{}).Equal(&Policy{Placement: Placement{ClusterTolerations: []Toleration{}}}) {
		t.Error("a nil slice is not equal to an empty one")
	}
}

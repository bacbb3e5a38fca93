package store

import (
	"bytes"
	"errors"
	"fmt"
	"testing"
)

// testKey is the data key of the store's tests.
var testKey = mustKey(bytes.Repeat([]byte{7}, 32))

func mustKey(b []byte) *DataKey {
	k, err := NewDataKey(b)
	if err != nil {
		panic(err)
	}
	return k
}

func TestSealOpen(t *testing.T) {
	plain := []byte("apiVersion: v1\nkind: Secret\ndata: {password: aHVudGVyMg==}")
	key := seqKey(17)
	sealed := testKey.Seal("changes", key, plain)
	if len(sealed) != len(plain)+sealOverhead || sealed[0] != sealVersion {
		t.Fatalf("sealed %d bytes into %d, version %d", len(plain), len(sealed), sealed[0])
	}
	if bytes.Contains(sealed, []byte("Secret")) {
		t.Fatal("the plaintext shows in the sealed record")
	}
	got, err := testKey.Open("changes", key, sealed)
	if err != nil || !bytes.Equal(got, plain) {
		t.Fatalf("Open = %q, %v", got, err)
	}
	if again := testKey.Seal("changes", key, plain); bytes.Equal(again, sealed) {
		t.Fatal("two seals of one record are equal: the nonce is not random")
	}
	if got, err := testKey.Open("x", nil, testKey.Seal("x", nil, nil)); err != nil || len(got) != 0 {
		t.Fatalf("an empty record: %q, %v", got, err)
	}
}

func TestOpenRefuses(t *testing.T) {
	plain := []byte("token: s3cr3t")
	key := seqKey(5)
	sealed := testKey.Seal("changes", key, plain)
	other := mustKey(bytes.Repeat([]byte{8}, 32))
	flip := func(i int) []byte {
		b := bytes.Clone(sealed)
		b[i] ^= 1
		return b
	}
	for name, tc := range map[string]struct {
		k     *DataKey
		place string
		key   []byte
		data  []byte
	}{
		"wrong key":           {other, "changes", key, sealed},
		"swapped record keys": {testKey, "changes", seqKey(6), sealed},
		"another bucket":      {testKey, "raft-log", key, sealed},
		"place runs into key": {testKey, "change", append([]byte("s"), key...), sealed},
		"tampered version":    {testKey, "changes", key, flip(0)},
		"tampered nonce":      {testKey, "changes", key, flip(3)},
		"tampered ciphertext": {testKey, "changes", key, flip(sealOverhead - 16 + 2)},
		"tampered tag":        {testKey, "changes", key, flip(len(sealed) - 1)},
		"truncated":           {testKey, "changes", key, sealed[:len(sealed)-1]},
		"truncated to header": {testKey, "changes", key, sealed[:sealOverhead-1]},
		"empty":               {testKey, "changes", key, nil},
		"plaintext":           {testKey, "changes", key, append([]byte{sealVersion}, bytes.Repeat([]byte("x"), 40)...)},
	} {
		got, err := tc.k.Open(tc.place, tc.key, tc.data)
		if !errors.Is(err, ErrOpen) || got != nil {
			t.Errorf("%s: Open = %q, %v; want ErrOpen", name, got, err)
		}
	}
}

func TestDeriveDataKey(t *testing.T) {
	seed := bytes.Repeat([]byte{1}, 32)
	var g1, g2 [32]byte
	g2[0] = 1
	a, err := DeriveDataKey(seed, g1)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := DeriveDataKey(seed, g1)
	c, _ := DeriveDataKey(seed, g2)
	d, _ := DeriveDataKey(bytes.Repeat([]byte{2}, 32), g1)
	sealed := a.Seal("changes", nil, []byte("x"))
	if _, err := b.Open("changes", nil, sealed); err != nil {
		t.Fatalf("the same seed and genesis derive another key: %v", err)
	}
	for name, k := range map[string]*DataKey{"another genesis": c, "another seed": d} {
		if _, err := k.Open("changes", nil, sealed); !errors.Is(err, ErrOpen) {
			t.Errorf("%s opens the record: %v", name, err)
		}
	}
	if _, err := DeriveDataKey(seed[:31], g1); err == nil {
		t.Fatal("a 31-byte seed was accepted")
	}
	if _, err := NewDataKey(make([]byte, 16)); err == nil {
		t.Fatal("a 16-byte key was accepted")
	}
}

// TestDeriveDataKeyVector pins the derivation: a change here makes every data file
// unreadable.
func TestDeriveDataKeyVector(t *testing.T) {
	seed := bytes.Repeat([]byte{1}, 32)
	var genesis [32]byte
	k, err := DeriveDataKey(seed, genesis)
	if err != nil {
		t.Fatal(err)
	}
	sealed := []byte{sealVersion}
	sealed = append(sealed, make([]byte, 12)...) // a zero nonce, for the vector only
	sealed = k.aead.Seal(sealed, sealed[1:13], []byte("atoll"), sealAAD("changes", seqKey(1)))
	const want = "0100000000000000000000000098d32bac7c0e8f0e1899c764a1f2f6c752dbed207d" // checked with Python cryptography's HKDF and AESGCM
	if got := fmt.Sprintf("%x", sealed); got != want {
		t.Fatalf("sealed vector %s, want %s", got, want)
	}
}

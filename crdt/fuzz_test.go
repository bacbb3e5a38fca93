package crdt

import (
	"bytes"
	"crypto/ed25519"
	"encoding/binary"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"testing"
)

// Fuzz targets for the decoders and the validator. The seed corpus is the golden vectors,
// a causal chain and mutations of them (f.Add), plus the files in testdata/fuzz/<target>.
//
//	go test ./crdt/ -run '^$' -fuzz '^FuzzReceive$' -fuzztime 30s

// fuzzSeeds returns valid envelopes on the stable test federation: the golden vectors and
// a chain of three changes by one site, each depending on the one before.
func fuzzSeeds(t testing.TB) (*fed, []*Envelope) {
	t.Helper()
	var envs []*Envelope
	for _, v := range goldenVectors(t) {
		envs = append(envs, v.env)
	}
	f := newFed(t)
	r := f.replica(t, "")
	for i, v := range []string{"1", "2", "3"} {
		envs = append(envs, mustWrite(t, r, f.sites["us-east"], set(KindCluster, "us-east/c1", "nodes", v),
			Op{Type: OpDelete, Kind: KindCluster, Key: "us-east/c1", Field: "reason"}))
		if i == 1 {
			envs = append(envs, mustWrite(t, r, f.sites["us-east"], Op{Type: OpRemove, Kind: KindStatus, Key: StatusKey("shop", "web", "us-east", "c1")}))
		}
	}
	return f, envs
}

// mutations returns a few corruptions of b: a flipped bit in the middle, a truncation,
// a doubled tail.
func mutations(b []byte) [][]byte {
	flip := slices.Clone(b)
	flip[len(flip)/2] ^= 0x10
	return [][]byte{flip, b[:len(b)-1], append(slices.Clone(b), b[len(b)/2:]...)}
}

func FuzzDecodeChange(f *testing.F) {
	_, envs := fuzzSeeds(f)
	for _, e := range envs {
		f.Add(e.Header)
		for _, m := range mutations(e.Header) {
			f.Add(m)
		}
	}
	f.Add([]byte{})
	f.Add([]byte{formatVersion})
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := DecodeChange(b)
		if err != nil {
			if c != nil || !errors.Is(err, ErrMalformed) {
				t.Fatalf("DecodeChange = %v, %v: want nil and an ErrMalformed", c, err)
			}
			return
		}
		enc := encodeHeader(c)
		if !bytes.Equal(enc, b) {
			t.Fatalf("not canonical: %s", firstDiff(b, enc))
		}
		c2, err := DecodeChange(enc)
		if err != nil || !reflect.DeepEqual(c, c2) {
			t.Fatalf("decoding the encoding again: %v\n%+v\n%+v", err, c, c2)
		}
	})
}

func FuzzDecodeEnvelope(f *testing.F) {
	_, envs := fuzzSeeds(f)
	for _, e := range envs {
		f.Add(e.Encode())
		f.Add(e.EncodeHeaderOnly())
		for _, m := range mutations(e.Encode()) {
			f.Add(m)
		}
	}
	f.Add([]byte{})
	f.Add([]byte{0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		e, err := DecodeEnvelope(b)
		if err != nil {
			if e != nil || !errors.Is(err, ErrMalformed) {
				t.Fatalf("DecodeEnvelope = %v, %v: want nil and an ErrMalformed", e, err)
			}
			return
		}
		if enc := e.Encode(); !bytes.Equal(enc, b) {
			t.Fatalf("not canonical: %s", firstDiff(b, enc))
		}
		if e.ID != hashWithDomain(domainChange, e.Header) || !bytes.Equal(encodeHeader(e.Change), e.Header) {
			t.Fatal("id or change does not match the header")
		}
		if n := len(e.Change.Sealed()); len(e.Bodies) != 0 && len(e.Bodies) != n {
			t.Fatalf("%d bodies for %d sealed ops", len(e.Bodies), n)
		}
		e2, err := DecodeEnvelope(e.Encode())
		if err != nil || !reflect.DeepEqual(e, e2) {
			t.Fatalf("decoding the encoding again: %v\n%+v\n%+v", err, e, e2)
		}
	})
}

// firstDiff describes how the encoding of a decoded input differs from the input.
func firstDiff(in, enc []byte) string {
	i := 0
	for i < len(in) && i < len(enc) && in[i] == enc[i] {
		i++
	}
	return fmt.Sprintf("%d bytes decode, but encode back to %d bytes; first difference at byte %d: input % x..., encoding % x...",
		len(in), len(enc), i, in[i:min(i+8, len(in))], enc[i:min(i+8, len(enc))])
}

// frames splits fuzz input into envelopes: uvarint length, bytes; at most 12.
func frames(data []byte) [][]byte {
	var out [][]byte
	for len(data) > 0 && len(out) < 12 {
		n, k := binary.Uvarint(data)
		if k <= 0 {
			return append(out, data)
		}
		data = data[k:]
		n = min(n, uint64(len(data)))
		out = append(out, data[:n])
		data = data[n:]
	}
	return out
}

func joinFrames(envs ...[]byte) []byte {
	var b []byte
	for _, e := range envs {
		b = appendBytes(b, e)
	}
	return b
}

// resign lets the fuzzer reach the rules behind the signature check: byte i of resign says
// how to sign frame i again, if it decodes. Low nibble 0: keep it; k: sign as fuzzSigners[k-1].
// Bits 4-5: how many admins (other than the author) cosign.
func resign(frame []byte, how byte, signers, admins []*Signer) []byte {
	k := int(how & 0x0f)
	if k == 0 || k > len(signers) {
		return frame
	}
	e, err := DecodeEnvelope(frame)
	if err != nil {
		return frame
	}
	c := *e.Change
	author := signers[k-1]
	c.Author = author.Public()
	msg := signingMessage(appendUnsigned(nil, &c))
	copy(c.Sig[:], ed25519.Sign(author.PrivateKey(), msg))
	c.Cosigs = nil
	for _, a := range admins {
		if len(c.Cosigs) == int(how>>4&3) {
			break
		}
		if a.Public() != c.Author {
			c.Cosigs = append(c.Cosigs, Cosig{Key: a.Public()})
			copy(c.Cosigs[len(c.Cosigs)-1].Sig[:], ed25519.Sign(a.PrivateKey(), msg))
		}
	}
	slices.SortFunc(c.Cosigs, func(a, b Cosig) int { return bytes.Compare(a.Key[:], b.Key[:]) })
	out := &Envelope{Header: encodeHeader(&c), Bodies: e.Bodies}
	return out.Encode()
}

// FuzzReceive feeds a replica a sequence of envelopes. It must never panic; a receive
// that stores nothing leaves the state alone; receiving again changes nothing; and the
// validator is a function of its input: a second replica fed the same sequence does the
// same, and a third fed only what the first stored, in that order, stores all of it and
// ends in the same state.
func FuzzReceive(f *testing.F) {
	fd, envs := fuzzSeeds(f)
	signers := []*Signer{fd.admins[0], fd.admins[1], fd.admins[2],
		fd.sites["eu-west"], fd.sites["eu-north"], fd.sites["us-east"], fd.sites["ap-south"],
		fd.ops["root"], fd.ops["shopdev"], key("stranger")}
	var raw [][]byte
	for _, e := range envs {
		raw = append(raw, e.Encode())
	}
	f.Add(joinFrames(raw...), uint64(0))
	rev := slices.Clone(raw)
	slices.Reverse(rev)
	f.Add(joinFrames(rev...), uint64(0)) // dependencies last: the pending buffer
	for i, e := range envs {
		f.Add(joinFrames(e.EncodeHeaderOnly(), e.Encode(), e.Encode()), uint64(0))
		for _, m := range mutations(e.Encode()) {
			f.Add(joinFrames(m, e.Encode()), uint64(0))
		}
		// Signed again by someone else: valid signatures on changes of the wrong author.
		f.Add(joinFrames(e.Encode()), uint64(1+i%len(signers))|uint64(i%3)<<4)
	}
	f.Add(joinFrames(quotaSeed(f, fd)...), uint64(0)) // a quota, then an operator past it
	f.Fuzz(func(t *testing.T, data []byte, how uint64) {
		fs := frames(data)
		for i := range fs {
			if i < 8 {
				fs[i] = resign(fs[i], byte(how>>(8*i)), signers, fd.admins)
			}
		}
		newReplica := func() *Replica {
			r, err := NewReplica(Config{Genesis: fd.genesis.Encode(), Self: fd.sites["eu-west"].Public()})
			if err != nil {
				t.Fatal(err)
			}
			return r
		}
		type summary struct {
			stored              []Hash
			rejected, buf, dups int
		}
		feed := func(r *Replica) ([]summary, [][]byte) {
			var sums []summary
			var stored [][]byte
			for i, fr := range fs {
				digest, n := r.Digest(), r.Len()
				wasStored := false
				if e, err := DecodeEnvelope(fr); err == nil {
					wasStored = r.Has(e.ID)
				}
				res := r.Receive(fr)
				s := summary{rejected: len(res.Rejected), buf: res.Buffered, dups: res.Duplicate}
				fresh := 0
				for _, e := range res.Stored {
					s.stored = append(s.stored, e.ID)
					if !r.Has(e.ID) {
						t.Fatalf("frame %d: reported stored, but not held: %s", i, e.ID)
					}
					if !(wasStored && e.ID == res.Stored[0].ID) {
						fresh++
					}
					stored = append(stored, e.Encode())
				}
				if r.Len() != n+fresh {
					t.Fatalf("frame %d: Len %d -> %d, but %d new changes reported stored: %+v", i, n, r.Len(), fresh, res)
				}
				if fresh == 0 && r.Digest() != digest {
					t.Fatalf("frame %d: nothing new stored (%+v), but the digest changed", i, res)
				}
				digest, n = r.Digest(), r.Len()
				if again := r.Receive(fr); r.Digest() != digest || r.Len() != n || len(again.Stored) > 0 {
					t.Fatalf("frame %d: receiving it again changed the replica: %+v", i, again)
				}
				sums = append(sums, s)
			}
			return sums, stored
		}
		a, b := newReplica(), newReplica()
		sa, stored := feed(a)
		sb, _ := feed(b)
		if !reflect.DeepEqual(sa, sb) || a.Digest() != b.Digest() || !slices.Equal(a.Heads(), b.Heads()) {
			t.Fatalf("two replicas fed the same frames differ:\n%+v\n%+v", sa, sb)
		}
		c := newReplica()
		for i, e := range stored {
			if res := c.Receive(e); len(res.Rejected) > 0 || res.Buffered > 0 {
				t.Fatalf("stored change %d, fed in the order it was stored, is not stored again: %+v", i, res)
			}
		}
		if c.Digest() != a.Digest() || c.Len() != a.Len() || c.PendingLen() != 0 {
			t.Fatalf("replaying what was stored: %s, the original %s", c, a)
		}
		// And in reverse order, through the pending buffer.
		d := newReplica()
		for i := len(stored) - 1; i >= 0; i-- {
			if res := d.Receive(stored[i]); len(res.Rejected) > 0 {
				t.Fatalf("stored change %d, fed in reverse, is rejected: %+v", i, res)
			}
		}
		if d.Digest() != a.Digest() || d.Len() != a.Len() || d.PendingLen() != 0 {
			t.Fatalf("replaying what was stored in reverse: %s, the original %s", d, a)
		}
	})
}

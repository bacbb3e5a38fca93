package peering

import (
	"bytes"
	"encoding/binary"
	"math"
	"reflect"
	"testing"
)

// memberlistMetaLimit is memberlist's MetaMaxSize: node metadata above it is refused.
const memberlistMetaLimit = 512

// testHeads returns n distinct heads in ascending order.
func testHeads(n int) [][32]byte {
	hs := make([][32]byte, n)
	for i := range hs {
		hs[i][0], hs[i][1] = byte(i>>8), byte(i)
		for j := 2; j < 32; j++ {
			hs[i][j] = byte(i*13 + j)
		}
	}
	return hs
}

func TestNewMeta(t *testing.T) {
	for _, n := range []int{0, 3, 8, 9, 100} {
		for _, changes := range []int{0, 1, 300, math.MaxInt64} {
			in := testHeads(n)
			m := NewMeta(changes, in)
			if m.Changes != uint64(changes) {
				t.Errorf("%d heads, %d changes: Changes = %d", n, changes, m.Changes)
			}
			if m.More != (n > MaxMetaHeads) {
				t.Errorf("%d heads: More = %v, want %v", n, m.More, n > MaxMetaHeads)
			}
			kept := min(n, MaxMetaHeads)
			if len(m.Heads) != kept {
				t.Fatalf("%d heads: kept %d, want %d", n, len(m.Heads), kept)
			}
			for i := range kept {
				if m.Heads[i] != in[i] {
					t.Errorf("%d heads: head %d is %x..., want the input's %x... (smallest first)", n, i, m.Heads[i][:2], in[i][:2])
				}
			}
			enc := m.Encode()
			want := 1 + len(binary.AppendUvarint(nil, uint64(changes))) + 1 + 32*kept
			if len(enc) != want || len(enc) > memberlistMetaLimit {
				t.Errorf("%d heads, %d changes: %d encoded bytes, want %d and at most %d", n, changes, len(enc), want, memberlistMetaLimit)
			}
			if n > 0 {
				in[0][31] ^= 0xff
				if m.Heads[0] == in[0] {
					t.Errorf("%d heads: Meta shares the caller's slice", n)
				}
			}
		}
	}
}

// TestMetaGolden pins the node metadata format: version, uvarint change count, a byte with
// the head count and 0x80 for More, then the heads.
func TestMetaGolden(t *testing.T) {
	h := [32]byte{}
	for i := range h {
		h[i] = 0x11
	}
	m := NewMeta(300, [][32]byte{h})
	want := append([]byte{0x01, 0xac, 0x02, 0x01}, bytes.Repeat([]byte{0x11}, 32)...)
	if got := m.Encode(); !bytes.Equal(got, want) {
		t.Errorf("Encode = % x, want % x", got, want)
	}
	if got := NewMeta(0, nil).Encode(); !bytes.Equal(got, []byte{0x01, 0x00, 0x00}) {
		t.Errorf("empty Encode = % x, want 01 00 00", got)
	}
	if got := NewMeta(5, testHeads(9)).Encode(); len(got) < 3 || got[2] != 0x88 {
		t.Errorf("9 heads: count byte %x, want 0x88 (8 heads, More)", got[:3])
	}
}

func TestMetaRoundTrip(t *testing.T) {
	ms := []Meta{
		{Changes: 0, More: true, Heads: testHeads(2)},
		{Changes: math.MaxUint64, Heads: testHeads(8)},
	}
	for _, n := range []int{0, 1, 3, 8, 9, 100} {
		ms = append(ms, NewMeta(n*1000+n, testHeads(n)))
	}
	for _, m := range ms {
		enc := m.Encode()
		got, err := DecodeMeta(enc)
		if err != nil {
			t.Fatalf("DecodeMeta(Encode(%d heads, %d changes, More %v)): %v", len(m.Heads), m.Changes, m.More, err)
		}
		if !reflect.DeepEqual(got, m) {
			t.Errorf("round trip: got %+v, want %+v", got, m)
		}
		if again := got.Encode(); !bytes.Equal(again, enc) {
			t.Errorf("re-encoding: got % x, want % x", again, enc)
		}
	}
}

func TestDecodeMetaRejects(t *testing.T) {
	valid := NewMeta(300, testHeads(2)).Encode() // 01 ac 02 02 <64 bytes>
	for _, tc := range []struct {
		name string
		in   []byte
	}{
		{"empty", nil},
		{"version 0", append([]byte{0x00}, valid[1:]...)},
		{"version 2", append([]byte{0x02}, valid[1:]...)},
		{"version only", []byte{0x01}},
		{"truncated change count", []byte{0x01, 0x80}},
		{"change count above 64 bits", append([]byte{0x01}, append(bytes.Repeat([]byte{0xff}, 10), 0x01, 0x00)...)},
		{"missing head count", []byte{0x01, 0x05}},
		{"truncated head", valid[:len(valid)-1]},
		{"missing head", valid[:len(valid)-32]},
		{"extra byte", append(bytes.Clone(valid), 0x00)},
		{"extra head", append(bytes.Clone(valid), make([]byte, 32)...)},
		{"zero heads with bytes", append([]byte{0x01, 0x05, 0x00}, make([]byte, 32)...)},
		{"zero heads and More with bytes", append([]byte{0x01, 0x05, 0x80}, make([]byte, 32)...)},
		{"9 heads", append([]byte{0x01, 0x05, 0x09}, make([]byte, 9*32)...)},
		{"9 heads and More", append([]byte{0x01, 0x05, 0x89}, make([]byte, 9*32)...)},
		{"127 heads", append([]byte{0x01, 0x05, 0x7f}, make([]byte, 127*32)...)},
	} {
		m, err := DecodeMeta(tc.in)
		if err == nil {
			t.Errorf("%s: DecodeMeta(% x) = %+v, want an error", tc.name, head(tc.in), m)
		}
	}
}

// TestDecodeMetaCanonical: whatever DecodeMeta accepts must re-encode to the same bytes,
// so one advertisement has one encoding. DecodeMeta reads the change count with
// binary.Uvarint, which accepts non-minimal encodings such as 80 00 for 0.
func TestDecodeMetaCanonical(t *testing.T) {
	for _, in := range [][]byte{
		{0x01, 0x80, 0x00, 0x00},
		{0x01, 0x81, 0x80, 0x00, 0x80},
	} {
		m, err := DecodeMeta(in)
		if err != nil {
			continue // rejecting it is fine
		}
		if got := m.Encode(); !bytes.Equal(got, in) {
			t.Errorf("DecodeMeta(% x) = %+v, re-encodes as % x", in, m, got)
		}
	}
}

// FuzzDecodeMeta: DecodeMeta never panics, what it accepts is within the limits, and
// re-encodes to the input bytes.
//
//	go test ./peering/ -run '^$' -fuzz '^FuzzDecodeMeta$' -fuzztime 30s
func FuzzDecodeMeta(f *testing.F) {
	for _, n := range []int{0, 1, 8, 9} {
		enc := NewMeta(n*77, testHeads(n)).Encode()
		f.Add(enc)
		f.Add(enc[:len(enc)-1])
		f.Add(append(bytes.Clone(enc), 0))
	}
	f.Add([]byte{})
	f.Add([]byte{0x01, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01, 0x80})
	f.Fuzz(func(t *testing.T, in []byte) {
		m, err := DecodeMeta(in)
		if err != nil {
			return
		}
		if len(m.Heads) > MaxMetaHeads {
			t.Fatalf("DecodeMeta(% x) kept %d heads", in, len(m.Heads))
		}
		enc := m.Encode()
		if len(enc) > memberlistMetaLimit {
			t.Fatalf("DecodeMeta(% x) accepted a Meta of %d encoded bytes", in, len(enc))
		}
		if again, err := DecodeMeta(enc); err != nil || !reflect.DeepEqual(again, m) {
			t.Fatalf("DecodeMeta(Encode(%+v)) = %+v, %v", m, again, err)
		}
		if !bytes.Equal(enc, in) {
			t.Fatalf("DecodeMeta(% x) = %+v, re-encodes as % x", in, m, enc)
		}
	})
}

package site

import (
	"bytes"
	"compress/gzip"
	"io"
	"testing"
)

// Segments compressed apart, written one after another behind the header, read back as
// one gzip stream, each whole as soon as it has arrived; a whole member reads back too.
func TestGzipSegments(t *testing.T) {
	parts := [][]byte{[]byte("event: view\ndata: {\"a\":1}\n\n"), unchanged, bytes.Repeat([]byte(`{"workload":"load/w00001"},`), 5000), unchanged}
	var wire bytes.Buffer
	wire.Write(gzipHeader)
	var want []byte
	for i, p := range parts {
		seg := deflateSegment(p)
		if i == 1 {
			seg = unchangedSegment
		}
		wire.Write(seg)
		want = append(want, p...)
		// What arrived so far decodes up to this part's end.
		zr, err := gzip.NewReader(bytes.NewReader(wire.Bytes()))
		if err != nil {
			t.Fatal(err)
		}
		got := make([]byte, len(want))
		if _, err := io.ReadFull(zr, got); err != nil || !bytes.Equal(got, want) {
			t.Fatalf("after part %d: %d bytes, %v; want the %d sent", i, len(got), err, len(want))
		}
	}
	if big := deflateSegment(parts[2]); len(big)*10 > len(parts[2]) {
		t.Errorf("a repetitive view compressed to %d of %d bytes", len(big), len(parts[2]))
	}
	// A view compressed once: a whole member (checksum and length checked by the reader)
	// and an event that follows the others in a stream.
	enc := append(bytes.Repeat([]byte(`{"workload":"load/w00002"},`), 3000), '\n')
	c := compressView(enc)
	zr, err := gzip.NewReader(bytes.NewReader(c.member))
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(zr)
	if err != nil || !bytes.Equal(got, enc) {
		t.Fatalf("a whole member: %d bytes, %v; want %d", len(got), err, len(enc))
	}
	wire.Write(c.event)
	want = append(append(append(want, eventView...), enc[:len(enc)-1]...), eventEnd...)
	zr, err = gzip.NewReader(bytes.NewReader(wire.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	got = make([]byte, len(want))
	if _, err := io.ReadFull(zr, got); err != nil || !bytes.Equal(got, want) {
		t.Fatalf("the stream with the view's event: %v", err)
	}
}

func TestAcceptsGzip(t *testing.T) {
	for h, want := range map[string]bool{
		"": false, "gzip": true, "gzip, deflate, br, zstd": true, "br;q=1.0, GZIP;q=0.5": true, "*": true,
		"gzip;q=0": false, "gzip; q=0.000": false, "gzip;q=0.01": true, "identity": false, "x-gzip": false,
	} {
		if got := acceptsGzip(h); got != want {
			t.Errorf("Accept-Encoding %q: %v, want %v", h, got, want)
		}
	}
}

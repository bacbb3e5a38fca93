package peering

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"testing"
)

// pattern returns n bytes that differ from frame to frame and position to position.
func pattern(seed, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(seed*31 + i*7 + i>>8)
	}
	return b
}

func TestFrameRoundTrip(t *testing.T) {
	sizes := []int{0, 1, 127, 128, 64 << 10}
	const max = 64 << 10
	var buf bytes.Buffer
	wantLen := 0
	for i, n := range sizes {
		if err := WriteFrame(&buf, pattern(i, n)); err != nil {
			t.Fatalf("WriteFrame(%d bytes): %v", n, err)
		}
		hdr := 1
		switch {
		case n >= 1<<14:
			hdr = 3
		case n >= 1<<7:
			hdr = 2
		}
		wantLen += hdr + n
	}
	if buf.Len() != wantLen {
		t.Fatalf("stream of %d bytes, want %d (uvarint header + body per frame)", buf.Len(), wantLen)
	}
	r := bufio.NewReader(&buf)
	for i, n := range sizes {
		got, err := ReadFrame(r, max)
		if err != nil {
			t.Fatalf("ReadFrame #%d (%d bytes): %v", i, n, err)
		}
		if !bytes.Equal(got, pattern(i, n)) {
			t.Fatalf("frame #%d: got %d bytes, want %d bytes of pattern %d", i, len(got), n, i)
		}
	}
	if got, err := ReadFrame(r, max); err != io.EOF || got != nil {
		t.Fatalf("after the last frame: got %d bytes, err %v; want nil, io.EOF", len(got), err)
	}
}

// TestFrameGolden pins the wire format: a uvarint length, then the body.
func TestFrameGolden(t *testing.T) {
	for _, tc := range []struct {
		body []byte
		want []byte
	}{
		{nil, []byte{0x00}},
		{[]byte{0xaa}, []byte{0x01, 0xaa}},
		{bytes.Repeat([]byte{0x55}, 127), append([]byte{0x7f}, bytes.Repeat([]byte{0x55}, 127)...)},
		{bytes.Repeat([]byte{0x55}, 128), append([]byte{0x80, 0x01}, bytes.Repeat([]byte{0x55}, 128)...)},
		{bytes.Repeat([]byte{0x55}, 300), append([]byte{0xac, 0x02}, bytes.Repeat([]byte{0x55}, 300)...)},
	} {
		var buf bytes.Buffer
		if err := WriteFrame(&buf, tc.body); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(buf.Bytes(), tc.want) {
			t.Errorf("WriteFrame(%d bytes) = % x..., want % x...", len(tc.body), head(buf.Bytes()), head(tc.want))
		}
	}
}

func head(b []byte) []byte { return b[:min(len(b), 4)] }

func TestFrameAtMax(t *testing.T) {
	for _, n := range []int{0, 1, 127, 128, 64 << 10} {
		var buf bytes.Buffer
		if err := WriteFrame(&buf, pattern(n, n)); err != nil {
			t.Fatal(err)
		}
		enc := buf.Bytes()
		if got, err := ReadFrame(bufio.NewReader(bytes.NewReader(enc)), n); err != nil || !bytes.Equal(got, pattern(n, n)) {
			t.Errorf("frame of %d bytes with max %d: got %d bytes, err %v; want it accepted", n, n, len(got), err)
		}
		if n == 0 {
			continue
		}
		if _, err := ReadFrame(bufio.NewReader(bytes.NewReader(enc)), n-1); !errors.Is(err, ErrFrameTooLarge) {
			t.Errorf("frame of %d bytes with max %d: err %v, want ErrFrameTooLarge", n, n-1, err)
		}
	}
}

// headerOnly serves the header in its first Read and counts every later Read: a reader that
// asks for more has started on the body.
type headerOnly struct {
	hdr   []byte
	reads int
}

func (h *headerOnly) Read(p []byte) (int, error) {
	h.reads++
	if h.reads > 1 {
		return copy(p, bytes.Repeat([]byte{0xee}, len(p))), nil
	}
	return copy(p, h.hdr), nil
}

func TestFrameTooLargeNotRead(t *testing.T) {
	for _, n := range []uint64{1<<20 + 1, 1 << 40, 1<<63 - 1, 1<<64 - 1} {
		hdr := binary.AppendUvarint(nil, n) // the header alone: WriteFrame would need the body
		src := &headerOnly{hdr: hdr}
		r := bufio.NewReader(src)
		got, err := ReadFrame(r, 1<<20)
		if !errors.Is(err, ErrFrameTooLarge) {
			t.Fatalf("header of %d bytes, max 1 MiB: err %v, want ErrFrameTooLarge", n, err)
		}
		if got != nil {
			t.Errorf("header of %d bytes: got %d bytes with the error", n, len(got))
		}
		if src.reads != 1 || r.Buffered() != 0 {
			t.Errorf("header of %d bytes: %d reads from the source, %d bytes buffered; want 1 read (the header) and nothing buffered", n, src.reads, r.Buffered())
		}
	}
}

func TestFrameTruncated(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   []byte
	}{
		{"half a body", append([]byte{10}, 1, 2, 3, 4)},
		{"all but one byte", append([]byte{0x80, 0x01}, make([]byte, 127)...)},
		{"inside the header", []byte{0x80}},
		{"inside a long header", []byte{0xff, 0xff, 0xff}},
	} {
		got, err := ReadFrame(bufio.NewReader(bytes.NewReader(tc.in)), 1<<20)
		if err == nil {
			t.Errorf("%s: got %d bytes and no error", tc.name, len(got))
			continue
		}
		if errors.Is(err, io.EOF) {
			t.Errorf("%s: err %v matches io.EOF, which a reader takes for a clean end of stream", tc.name, err)
		}
		if errors.Is(err, ErrFrameTooLarge) {
			t.Errorf("%s: err %v, not a size problem", tc.name, err)
		}
	}
}

// TestFrameHeaderWithoutBody: the stream ends right after a complete header. That is a
// truncated frame, but io.ReadFull reports io.EOF when it reads no byte at all, and
// ReadFrame wraps it with %w, so errors.Is(err, io.EOF) holds and a caller that treats
// io.EOF as a clean end (site/sync.go does errors.Is(err, io.EOF)) cannot tell the two apart.
func TestFrameHeaderWithoutBody(t *testing.T) {
	got, err := ReadFrame(bufio.NewReader(bytes.NewReader([]byte{10})), 1<<20)
	if err == nil {
		t.Fatalf("got %d bytes and no error", len(got))
	}
	if errors.Is(err, io.EOF) {
		t.Fatalf("err %v matches io.EOF; want io.ErrUnexpectedEOF or another error", err)
	}
}

func TestFrameCleanEOF(t *testing.T) {
	if got, err := ReadFrame(bufio.NewReader(bytes.NewReader(nil)), 1<<20); err != io.EOF || got != nil {
		t.Fatalf("empty stream: got %v, %v; want nil, io.EOF itself (not wrapped)", got, err)
	}
	var buf bytes.Buffer
	for i := range 3 {
		if err := WriteFrame(&buf, pattern(i, i)); err != nil {
			t.Fatal(err)
		}
	}
	r := bufio.NewReader(&buf)
	for i := range 3 {
		if got, err := ReadFrame(r, 1<<20); err != nil || !bytes.Equal(got, pattern(i, i)) {
			t.Fatalf("frame %d: got %v, %v", i, got, err)
		}
	}
	for range 2 {
		if _, err := ReadFrame(r, 1<<20); err != io.EOF {
			t.Fatalf("between frames at the end: err %v, want io.EOF", err)
		}
	}
}

func TestFrameOverlongHeader(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   []byte
	}{
		{"eleven continuation bytes", bytes.Repeat([]byte{0x80}, 11)},
		{"ten bytes above 64 bits", append(bytes.Repeat([]byte{0xff}, 9), 0x02)},
		{"ten continuation bytes then a body", append(bytes.Repeat([]byte{0x81}, 10), 0x00, 1, 2, 3)},
	} {
		got, err := ReadFrame(bufio.NewReader(bytes.NewReader(tc.in)), 1<<20)
		if err == nil {
			t.Errorf("%s: got %d bytes and no error", tc.name, len(got))
			continue
		}
		if errors.Is(err, io.EOF) || errors.Is(err, ErrFrameTooLarge) {
			t.Errorf("%s: err %v; want a malformed-length error, neither io.EOF nor ErrFrameTooLarge", tc.name, err)
		}
	}
}

type failWriter struct {
	after int // successful writes before failing
	err   error
}

func (w *failWriter) Write(p []byte) (int, error) {
	if w.after == 0 {
		return 0, w.err
	}
	w.after--
	return len(p), nil
}

func TestWriteFrameError(t *testing.T) {
	boom := errors.New("boom")
	for after := range 2 { // fail on the header, then on the body
		if err := WriteFrame(&failWriter{after: after, err: boom}, []byte("body")); !errors.Is(err, boom) {
			t.Errorf("writer failing after %d writes: err %v, want boom", after, err)
		}
	}
}

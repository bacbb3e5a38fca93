package site

import (
	"bytes"
	"compress/flate"
	"encoding/binary"
	"hash/crc32"
	"strings"
)

// The view is large (about 2.5 MiB at 10,000 workloads) and the same for every reader
// of a scope, so it is compressed once per view and scope, not once per reader: GET
// /v1/view serves a gzip member made of it, and a stream is one gzip member that never
// ends, whose every event is made of the same segment. A segment is compressed on its own
// and ends with a sync flush (byte-aligned, not final), so segments written one after
// another form one valid deflate stream: none refers to bytes before its own.

// gzipHeader opens a stream's gzip member (RFC 1952: deflate, no name, no time, OS
// unknown). The member has no trailer: the stream ends when the connection does.
var gzipHeader = []byte{0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 255}

// deflateSegment compresses b as a segment that may follow any other in a deflate stream.
func deflateSegment(b []byte) []byte {
	var buf bytes.Buffer
	w, err := flate.NewWriter(&buf, flate.BestSpeed)
	if err == nil {
		_, err = w.Write(b)
	}
	if err == nil {
		err = w.Flush()
	}
	if err != nil {
		panic("site: deflate into memory: " + err.Error())
	}
	return buf.Bytes()
}

// compressedView is a view's encoding compressed once, for both uses.
type compressedView struct {
	member []byte // a whole gzip member of the encoding: GET /v1/view's body
	event  []byte // the stream's event carrying it, as a segment
}

// compressView compresses enc, a view's encoding ending in a newline, once: the
// segment of its bytes before the newline is shared by the member and the event.
func compressView(enc []byte) compressedView {
	body := deflateSegment(bytes.TrimSuffix(enc, []byte("\n")))
	member := make([]byte, 0, len(gzipHeader)+len(body)+len(newlineSegment)+len(finalBlock)+8)
	member = append(append(append(append(member, gzipHeader...), body...), newlineSegment...), finalBlock...)
	member = binary.LittleEndian.AppendUint32(member, crc32.ChecksumIEEE(enc))
	member = binary.LittleEndian.AppendUint32(member, uint32(len(enc))) // ISIZE: modulo 2^32
	event := make([]byte, 0, len(eventViewSegment)+len(body)+len(eventEndSegment))
	event = append(append(append(event, eventViewSegment...), body...), eventEndSegment...)
	return compressedView{member: member, event: event}
}

// finalBlock ends a deflate stream at a byte boundary: an empty final block with fixed
// codes (BFINAL 1, BTYPE 01, end of block 0000000), padded.
var finalBlock = []byte{0x03, 0x00}

var (
	newlineSegment   = deflateSegment([]byte("\n"))
	eventViewSegment = deflateSegment(eventView)
	eventEndSegment  = deflateSegment(eventEnd)
)

// acceptsGzip reads an Accept-Encoding header: whether gzip is acceptable (named, or
// "*", without q=0).
func acceptsGzip(header string) bool {
	for part := range strings.SplitSeq(header, ",") {
		coding, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		coding = strings.ToLower(strings.TrimSpace(coding))
		if coding != "gzip" && coding != "*" {
			continue
		}
		q := strings.ReplaceAll(strings.ToLower(params), " ", "")
		return !strings.HasPrefix(q, "q=0") || strings.HasPrefix(q, "q=0.") && strings.Trim(q[len("q=0."):], "0") != ""
	}
	return false
}

// unchangedSegment is the stream's keep-alive, compressed once.
var unchangedSegment = deflateSegment(unchanged)

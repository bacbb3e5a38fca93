package store

import (
	"encoding/binary"
	"fmt"
	"testing"
)

// BenchmarkAppend measures one Append (one transaction) of a batch of new
// 200-byte records, with and without fsync. ns/op is per batch; records/s
// is the throughput.
func BenchmarkAppend(b *testing.B) {
	for _, noSync := range []bool{false, true} {
		for _, size := range []int{1, 100} {
			b.Run(fmt.Sprintf("batch=%d/nosync=%t", size, noSync), func(b *testing.B) {
				s, _ := openTemp(b, Options{Key: testKey, NoSync: noSync})
				batch := make([]Record, size)
				for i := range batch {
					batch[i].Data = make([]byte, 200)
				}
				var n uint64
				for b.Loop() {
					for i := range batch {
						n++
						binary.BigEndian.PutUint64(batch[i].ID[:], n)
					}
					if err := s.Append(batch); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "records/s")
			})
		}
	}
}

// BenchmarkSeal measures sealing and opening one 2 KiB record (a change with a
// template body), the cost encryption adds to Append and Load per record.
func BenchmarkSeal(b *testing.B) {
	data := make([]byte, 2048)
	key := seqKey(1)
	b.Run("seal", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		for b.Loop() {
			testKey.Seal("changes", key, data)
		}
	})
	sealed := testKey.Seal("changes", key, data)
	b.Run("open", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		for b.Loop() {
			if _, err := testKey.Open("changes", key, sealed); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkLoad measures Load of 10,000 stored 2 KiB records: the check of every
// record and index entry, then the walk that hands them out.
func BenchmarkLoad(b *testing.B) {
	s, _ := openTemp(b, Options{Key: testKey, NoSync: true})
	batch := make([]Record, 10_000)
	for i := range batch {
		binary.BigEndian.PutUint64(batch[i].ID[:], uint64(i))
		batch[i].Data = make([]byte, 2048)
	}
	if err := s.Append(batch); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(batch) * 2048))
	for b.Loop() {
		if err := s.Load(func(Record) error { return nil }); err != nil {
			b.Fatal(err)
		}
	}
}

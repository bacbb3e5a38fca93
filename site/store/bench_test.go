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

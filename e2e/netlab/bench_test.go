package netlab

import (
	"strconv"
	"testing"
	"time"
)

// BenchmarkCreate measures Create alone; Close runs with the timer stopped.
func BenchmarkCreate(b *testing.B) {
	if ok, reason := Available(); !ok {
		b.Skip(reason)
	}
	for _, n := range []int{3, 10} {
		b.Run("nodes="+strconv.Itoa(n), func(b *testing.B) {
			prefix := testPrefix("bench" + strconv.Itoa(n))
			var closeTime time.Duration
			for range b.N {
				l, err := Create(prefix, n)
				if err != nil {
					b.Fatal(err)
				}
				b.StopTimer()
				start := time.Now()
				if err := l.Close(); err != nil {
					b.Fatal(err)
				}
				closeTime += time.Since(start)
				b.StartTimer()
			}
			b.ReportMetric(float64(closeTime.Nanoseconds())/float64(b.N), "close-ns/op")
		})
	}
}

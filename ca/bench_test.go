package ca_test

import (
	"fmt"
	"sync"
	"testing"

	"github.com/gostkey/gostkey/ca"
	"github.com/gostkey/gostkey/ca/internal/catest"
	"github.com/gostkey/gostkey/gost"
)

// BenchmarkEnroll is the whole enrollment use case per op: registration
// beforehand, then redeem the code, check the CSR, prepare and lint,
// audit the intent, sign (an in-memory GOST key: the token's cost is
// separate), store and audit the result, on SQLite with group commit, at
// 1, 4 and 16 concurrent clients.
func BenchmarkEnroll(b *testing.B) {
	for _, clients := range []int{1, 4, 16} {
		b.Run(fmt.Sprintf("c=%d", clients), func(b *testing.B) {
			c := catest.New(b)
			type job struct {
				code string
				csr  []byte
			}
			jobs := make([]job, b.N)
			for i := range jobs {
				r, err := c.Registrar.Register(ctx, "bench", catest.Identity())
				if err != nil {
					b.Fatal(err)
				}
				jobs[i] = job{r.Code.Reveal(), catest.CSR(b, catest.Key(b, gost.CurveTC26256A))}
			}
			next := make(chan job, len(jobs))
			for _, j := range jobs {
				next <- j
			}
			close(next)
			b.ResetTimer()
			var wg sync.WaitGroup
			for range clients {
				wg.Go(func() {
					for j := range next {
						if _, err := c.Enrollment.Enroll(ctx, ca.EnrollRequest{Code: j.code, CSR: j.csr, Client: client}); err != nil {
							b.Error(err)
							return
						}
					}
				})
			}
			wg.Wait()
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "issuances/s")
		})
	}
}

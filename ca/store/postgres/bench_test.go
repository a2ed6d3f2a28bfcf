package postgres

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/gostkey/gostkey/ca/audit"
	"github.com/gostkey/gostkey/ca/store"
	"github.com/gostkey/gostkey/ca/store/postgres/pgtest"
)

// BenchmarkIssue is ca/store/sqlite's BenchmarkIssue on PostgreSQL 15 with
// fsync on (synchronous_commit on, the default): the baseline issue 10
// starts from.
//
//	go test -run '^$' -bench Issue -benchtime 1000x ./ca/store/postgres/
func BenchmarkIssue(b *testing.B) {
	c := pgtest.Start(b, true)
	if c == nil {
		return
	}
	for _, conc := range []int{1, 4, 16} {
		b.Run(fmt.Sprintf("c=%d", conc), func(b *testing.B) {
			s := fresh(b, c)
			defer s.Close()
			ctx := context.Background()
			now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
			j := audit.New(func() time.Time { return now }, nil)
			der := make([]byte, 1200)
			work := make(chan struct{}, b.N)
			for range b.N {
				work <- struct{}{}
			}
			close(work)
			b.ResetTimer()
			start := time.Now()
			var wg sync.WaitGroup
			errs := make(chan error, conc)
			for range conc {
				wg.Go(func() {
					for range work {
						err := s.Tx(ctx, func(tx store.Tx) error {
							serial, err := tx.AllocateSerial(ctx, rand.Reader, now)
							if err != nil {
								return err
							}
							spki := sha256.Sum256(serial[:])
							cert := store.Certificate{Serial: serial, Identity: store.Identity{Surname: "S", GivenName: "G", SNILS: "1", INN: "2"},
								SubjectDER: der[:150], NotBefore: now, NotAfter: now.AddDate(1, 0, 0), DER: der, SPKIHash: spki[:], IssuedAt: now}
							if err := tx.InsertCertificate(ctx, &cert); err != nil {
								return err
							}
							_, err = j.Append(ctx, tx, audit.Entry{Actor: "enrollment", Action: "cert.issue", Object: serial.String()})
							return err
						})
						if err != nil {
							errs <- err
							return
						}
					}
				})
			}
			wg.Wait()
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "issuances/s")
			select {
			case err := <-errs:
				b.Fatal(err)
			default:
			}
		})
	}
}

package postgres

import (
	"context"
	"testing"

	"github.com/gostkey/gostkey/ca/store"
	"github.com/gostkey/gostkey/ca/store/postgres/pgtest"
	"github.com/gostkey/gostkey/ca/store/storetest"
)

// fresh creates an empty database and opens a store on it.
func fresh(t testing.TB, c *pgtest.Cluster) store.Store {
	t.Helper()
	s, err := Open(context.Background(), c.CreateDB(t))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestStore(t *testing.T) {
	c := pgtest.Start(t, false)
	if c == nil {
		return
	}
	storetest.Run(t, func(t *testing.T) store.Store { return fresh(t, c) })
}

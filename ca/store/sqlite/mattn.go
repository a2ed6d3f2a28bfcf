package sqlite

import (
	"errors"
	"fmt"
	"net/url"

	msqlite3 "github.com/mattn/go-sqlite3"
)

// defaultDriver is mattn/go-sqlite3, SQLite's C code through cgo: durable
// issuance throughput is the same with either driver (fsync bounds it), and
// this one spends less CPU per transaction; gostkey-ca needs cgo for PKCS#11
// anyway, so a pure-Go driver would buy nothing. README.md has the numbers.
var defaultDriver = driver{
	name: "sqlite3",
	dsn: func(path string, o Options, readOnly bool) string {
		q := url.Values{}
		q.Set("_busy_timeout", fmt.Sprint(o.BusyTimeout.Milliseconds()))
		q.Set("_journal_mode", "WAL")
		q.Set("_synchronous", string(o.Sync))
		q.Set("_foreign_keys", "1")
		if readOnly {
			q.Set("_query_only", "1")
			q.Set("_txlock", "deferred")
		} else {
			q.Set("_txlock", "immediate")
		}
		return "file:" + path + "?" + q.Encode()
	},
	code: func(err error) (int, bool) {
		var e msqlite3.Error
		if errors.As(err, &e) {
			return int(e.Code), true
		}
		return 0, false
	},
}

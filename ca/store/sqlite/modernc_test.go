package sqlite

import (
	"errors"
	"fmt"
	"net/url"

	msqlite "modernc.org/sqlite"
)

// moderncDriver is the pure-Go driver, kept in the tests so the benchmark
// can compare it with the one Open uses.
var moderncDriver = driver{
	name: "sqlite",
	dsn: func(path string, o Options, readOnly bool) string {
		q := url.Values{}
		q.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", o.BusyTimeout.Milliseconds()))
		q.Add("_pragma", "journal_mode(WAL)")
		q.Add("_pragma", "synchronous("+string(o.Sync)+")")
		q.Add("_pragma", "foreign_keys(1)")
		if readOnly {
			q.Add("_pragma", "query_only(1)")
			q.Set("_txlock", "deferred")
		} else {
			q.Set("_txlock", "immediate")
		}
		return "file:" + path + "?" + q.Encode()
	},
	code: func(err error) (int, bool) {
		var e *msqlite.Error
		if errors.As(err, &e) {
			return e.Code() & 0xff, true
		}
		return 0, false
	},
}

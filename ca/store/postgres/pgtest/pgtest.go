// Package pgtest starts throwaway PostgreSQL clusters for tests (the store
// suite, the CA's replica tests): initdb and pg_ctl in a temp dir on a free
// port, no Docker.
package pgtest

import (
	"bytes"
	"database/sql"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"testing"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" database/sql driver

	"github.com/gostkey/gostkey/internal/testkit"
)

// Cluster is a throwaway PostgreSQL cluster in a temp dir on a free port.
type Cluster struct {
	port int
	n    atomic.Int64
}

// Start runs initdb and pg_ctl; it returns nil after testkit.Missing when
// PostgreSQL is not installed (a failure when CI=true). durable turns fsync on. PostgreSQL refuses to run as root, so
// as root the binaries run as the postgres user, in a directory it owns.
func Start(t testing.TB, durable bool) *Cluster {
	t.Helper()
	initdb, err := exec.LookPath("initdb")
	if err != nil {
		testkit.Missing(t, "PostgreSQL's initdb: %v", err)
		return nil
	}
	pgctl, err := exec.LookPath("pg_ctl")
	if err != nil {
		testkit.Missing(t, "PostgreSQL's pg_ctl: %v", err)
		return nil
	}
	dir, err := os.MkdirTemp("", "gostkey-pg-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	run := func(name string, args ...string) *exec.Cmd { return exec.Command(name, args...) }
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			testkit.Missing(t, "a postgres user to run PostgreSQL as (running as root): %v", err)
			return nil
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		if err := os.Chown(dir, uid, gid); err != nil {
			t.Fatal(err)
		}
		run = func(name string, args ...string) *exec.Cmd {
			return exec.Command("runuser", append([]string{"-u", "postgres", "--", name}, args...)...)
		}
	}
	data := filepath.Join(dir, "data")
	if out, err := run(initdb, "-D", data, "-U", "postgres", "--auth=trust", "--no-sync", "-E", "UTF8").CombinedOutput(); err != nil {
		t.Fatalf("initdb: %v\n%s", err, out)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	// The suite runs without fsync (it tests behaviour, not durability); the
	// benchmark with it, as production would.
	fsync := "off"
	if durable {
		fsync = "on"
	}
	opts := fmt.Sprintf("-p %d -k %s -c listen_addresses=127.0.0.1 -c fsync=%s -c max_connections=200", port, dir, fsync)
	if out, err := run(pgctl, "-D", data, "-o", opts, "-l", filepath.Join(dir, "log"), "-w", "start").CombinedOutput(); err != nil {
		log, _ := os.ReadFile(filepath.Join(dir, "log"))
		t.Fatalf("pg_ctl start: %v\n%s\n%s", err, out, log)
	}
	t.Cleanup(func() {
		if out, err := run(pgctl, "-D", data, "-m", "immediate", "-w", "stop").CombinedOutput(); err != nil {
			t.Errorf("pg_ctl stop: %v\n%s", err, bytes.TrimSpace(out))
		}
	})
	return &Cluster{port: port}
}

// DSN is the connection string of database db on the cluster.
func (c *Cluster) DSN(db string) string {
	return fmt.Sprintf("host=127.0.0.1 port=%d user=postgres dbname=%s sslmode=disable", c.port, db)
}

// CreateDB creates an empty database and returns its DSN.
func (c *Cluster) CreateDB(t testing.TB) string {
	t.Helper()
	name := fmt.Sprintf("ca_%d", c.n.Add(1))
	admin, err := sql.Open("pgx", c.DSN("postgres"))
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	if _, err := admin.Exec("CREATE DATABASE " + name); err != nil {
		t.Fatal(err)
	}
	return c.DSN(name)
}

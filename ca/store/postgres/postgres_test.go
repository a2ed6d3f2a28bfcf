package postgres

import (
	"bytes"
	"context"
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

	"github.com/gostkey/gostkey/ca/store"
	"github.com/gostkey/gostkey/ca/store/storetest"
	"github.com/gostkey/gostkey/internal/testkit"
)

// cluster is a throwaway PostgreSQL cluster in a temp dir on a free port.
type cluster struct {
	port int
	n    atomic.Int64
}

// startCluster runs initdb and pg_ctl. PostgreSQL refuses to run as root, so
// as root the binaries run as the postgres user, in a directory it owns.
func startCluster(t testing.TB, durable bool) *cluster {
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
	return &cluster{port: port}
}

func (c *cluster) dsn(db string) string {
	return fmt.Sprintf("host=127.0.0.1 port=%d user=postgres dbname=%s sslmode=disable", c.port, db)
}

// fresh creates an empty database and opens a store on it.
func (c *cluster) fresh(t testing.TB) store.Store {
	t.Helper()
	name := fmt.Sprintf("ca_%d", c.n.Add(1))
	admin, err := sql.Open("pgx", c.dsn("postgres"))
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	if _, err := admin.Exec("CREATE DATABASE " + name); err != nil {
		t.Fatal(err)
	}
	s, err := Open(context.Background(), c.dsn(name))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestStore(t *testing.T) {
	c := startCluster(t, false)
	if c == nil {
		return
	}
	storetest.Run(t, func(t *testing.T) store.Store { return c.fresh(t) })
}

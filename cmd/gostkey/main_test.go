package main

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gostkey/gostkey/internal/testkit"
	"github.com/rogpeppe/go-internal/testscript"
)

// The CLI is tested as a user types it: testdata/script/*.txtar run
// `gostkey` (this test binary re-executed) next to the real openssl with
// the gost engine.
func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		"gostkey": func() {
			os.Exit(run(context.Background(), os.Args[1:], stdio{in: os.Stdin, out: os.Stdout, err: os.Stderr}))
		},
	})
}

func TestScripts(t *testing.T) {
	testkit.RequireOpenSSL(t)
	softtoken := testkit.Softtoken(t)
	testscript.Run(t, testscript.Params{
		Dir:                 filepath.Join("testdata", "script"),
		RequireExplicitExec: true,
		Setup: func(env *testscript.Env) error {
			env.Setenv("OPENSSL_CONF", testkit.OpenSSLConfig())
			env.Setenv("SOFTTOKEN", softtoken)
			env.Setenv("GOSTKEY_SOFTTOKEN_DIR", filepath.Join(env.WorkDir, "tokens"))
			// A cheap PIN KDF (scrypt N = 2^10): the tests log in hundreds of times.
			conf := filepath.Join(env.WorkDir, "softtoken.conf")
			if err := os.WriteFile(conf, []byte("scrypt_log2n = 10\n"), 0o600); err != nil {
				return err
			}
			env.Setenv("GOSTKEY_SOFTTOKEN_CONF", conf)
			env.Setenv("GOSTKEY_CONFIG", filepath.Join(env.WorkDir, "no-config.json"))
			env.Setenv("TESTVECTORS", filepath.Join(testkit.RepoRoot(), "testdata", "vectors"))
			return nil
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"randfile":   cmdRandfile,
			"samedigest": cmdSameDigest,
			"status":     cmdStatus,
			"freeport":   cmdFreePort,
			"waitport":   cmdWaitPort,
		},
	})
}

// randfile NAME SIZE writes SIZE deterministic pseudo-random bytes.
func cmdRandfile(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: randfile NAME SIZE")
	}
	size, err := strconv.Atoi(args[1])
	ts.Check(err)
	data := make([]byte, size)
	r := rand.NewChaCha8([32]byte{byte(size), byte(size >> 8), byte(size >> 16)})
	_, _ = r.Read(data)
	ts.Check(os.WriteFile(ts.MkAbs(args[0]), data, 0o644))
}

// samedigest A B compares the first field (the hex digest) of two files:
// ours prints "hex  name", openssl -r prints "hex *name".
func cmdSameDigest(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 2 {
		ts.Fatalf("usage: samedigest FILE1 FILE2")
	}
	a, b := strings.Fields(ts.ReadFile(args[0])), strings.Fields(ts.ReadFile(args[1]))
	same := len(a) > 0 && len(b) > 0 && a[0] == b[0]
	if same == neg {
		ts.Fatalf("digests %v and %v: same=%v", a, b, same)
	}
}

// status N PROG ARGS... runs PROG like exec and checks that it exits with
// status N exactly (exec and ! exec tell only zero from non-zero, and the
// CLI's 1 and 2 mean different things).
func cmdStatus(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 2 {
		ts.Fatalf("usage: status N PROG [ARGS...]")
	}
	want, err := strconv.Atoi(args[0])
	ts.Check(err)
	got := 0
	if err := ts.Exec(args[1], args[2:]...); err != nil {
		var ee *exec.ExitError
		if !errors.As(err, &ee) {
			ts.Fatalf("%s: %v", args[1], err)
		}
		got = ee.ExitCode()
	}
	if got != want {
		ts.Fatalf("%s exited with status %d, want %d", args[1], got, want)
	}
}

// freeport VAR sets VAR to a TCP port on 127.0.0.1 that was free a moment
// ago, for a server the script starts.
func cmdFreePort(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: freeport VAR")
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	ts.Check(err)
	port := l.Addr().(*net.TCPAddr).Port
	ts.Check(l.Close())
	ts.Setenv(args[0], strconv.Itoa(port))
}

// waitport PORT waits until a server the script started in the background
// listens on PORT (a minute at most). It looks in /proc/net rather than
// connecting: openssl ocsp serves one connection at a time and gives up on
// a connection that sends no request, or quits on a malformed one.
func cmdWaitPort(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: waitport PORT")
	}
	port, err := strconv.Atoi(args[0])
	ts.Check(err)
	// /proc/net/tcp{,6} lines: "sl local_address rem_address st ...",
	// the address as HEXIP:HEXPORT, st 0A being LISTEN.
	suffix := fmt.Sprintf(":%04X", port)
	deadline := time.Now().Add(time.Minute)
	for {
		for _, f := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
			data, err := os.ReadFile(f)
			if err != nil {
				continue
			}
			for _, line := range strings.Split(string(data), "\n") {
				if fields := strings.Fields(line); len(fields) > 3 && strings.HasSuffix(fields[1], suffix) && fields[3] == "0A" {
					return
				}
			}
		}
		if time.Now().After(deadline) {
			ts.Fatalf("nothing listens on port %d", port)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

package main

import (
	"context"
	"errors"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

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

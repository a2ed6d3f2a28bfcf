package main

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/gostkey/gostkey/internal/testkit"
	"github.com/rogpeppe/go-internal/testscript"
)

// The CA client as a user types it, against a real gostkey-ca (built from
// this checkout) serving on free loopback ports: testdata/ca-script/*.txtar.
func TestCAScripts(t *testing.T) {
	testkit.RequireOpenSSL(t)
	softtoken := testkit.Softtoken(t)
	if _, err := exec.LookPath("go"); err != nil {
		testkit.Missing(t, "the go command (to build gostkey-ca)")
	}
	binDir := t.TempDir()
	if out, err := exec.Command("go", "build", "-o", filepath.Join(binDir, "gostkey-ca"), "../gostkey-ca").CombinedOutput(); err != nil {
		t.Fatalf("go build gostkey-ca: %v\n%s", err, out)
	}
	testscript.Run(t, testscript.Params{
		Dir:                 filepath.Join("testdata", "ca-script"),
		RequireExplicitExec: true,
		Setup: func(env *testscript.Env) error {
			env.Setenv("PATH", binDir+string(os.PathListSeparator)+env.Getenv("PATH"))
			env.Setenv("OPENSSL_CONF", testkit.OpenSSLConfig())
			env.Setenv("SOFTTOKEN", softtoken)
			env.Setenv("GOSTKEY_SOFTTOKEN_DIR", filepath.Join(env.WorkDir, "tokens"))
			conf := filepath.Join(env.WorkDir, "softtoken.conf")
			if err := os.WriteFile(conf, []byte("scrypt_log2n = 10\n"), 0o600); err != nil {
				return err
			}
			env.Setenv("GOSTKEY_SOFTTOKEN_CONF", conf)
			env.Setenv("GOSTKEY_CONFIG", filepath.Join(env.WorkDir, "no-config.json"))
			return os.Mkdir(filepath.Join(env.WorkDir, "tokens"), 0o700)
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"status":   cmdStatus,
			"freeport": cmdFreePort,
			"waitport": cmdWaitPort,
			"capture":  cmdCapture,
			"httpget":  cmdHTTPGet,
		},
	})
}

// capture VAR REGEXP sets VAR to the first group of REGEXP's first match
// in the last command's standard output (multi-line mode), as a shell
// script would with $(… | sed).
func cmdCapture(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: capture VAR REGEXP")
	}
	re, err := regexp.Compile("(?m)" + args[1])
	ts.Check(err)
	m := re.FindStringSubmatch(ts.ReadFile("stdout"))
	if len(m) < 2 {
		ts.Fatalf("capture: no match for %s in stdout", args[1])
	}
	ts.Setenv(args[0], strings.TrimSpace(m[1]))
}

// httpget URL FILE saves the body of a GET of URL (which must answer 200)
// in FILE, as curl -fo would: the CRLs at their distribution points.
func cmdHTTPGet(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: httpget URL FILE")
	}
	resp, err := http.Get(args[0])
	ts.Check(err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	ts.Check(err)
	if resp.StatusCode != http.StatusOK {
		ts.Fatalf("GET %s: %s", args[0], resp.Status)
	}
	ts.Check(os.WriteFile(ts.MkAbs(args[1]), body, 0o600))
	fmt.Fprintf(ts.Stdout(), "%s: %s, %d bytes\n", args[0], resp.Header.Get("Content-Type"), len(body))
}

package main

import (
	"crypto/rand"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// batchDocs is the size of the batch the batch-sign row signs: the case of
// a user signing many files, who must pay the PIN KDF once, not per file.
const batchDocs = 200

// batchSign pairs one `gostkey sign` of batchDocs small files on a
// softtoken token (default scrypt cost: what users pay per login) against
// batchDocs `openssl cms -sign -cades` runs over the same files with a key
// of the same type, and returns the row in wall-clock ms per document.
func batchSign(root, tmp string) (row, error) {
	bin := filepath.Join(root, "bin")
	lib := filepath.Join(bin, "libgostkey-softtoken.so")
	dir := filepath.Join(tmp, "batch")
	tokens := filepath.Join(dir, "tokens")
	if err := os.MkdirAll(tokens, 0o700); err != nil {
		return row{}, err
	}
	// The user's own softtoken: default configuration (scrypt at its
	// default cost), so no GOSTKEY_SOFTTOKEN_CONF.
	env := append(withoutEnv(os.Environ(), "GOSTKEY_SOFTTOKEN_CONF", "GOSTKEY_SOFTTOKEN_DIR"), "GOSTKEY_SOFTTOKEN_DIR="+tokens)
	soPIN, pin := filepath.Join(dir, "so.pin"), filepath.Join(dir, "user.pin")
	if err := os.WriteFile(soPIN, []byte("87654321\n"), 0o600); err != nil {
		return row{}, err
	}
	if err := os.WriteFile(pin, []byte("12345678\n"), 0o600); err != nil {
		return row{}, err
	}
	gostkey := func(args ...string) error {
		cmd := exec.Command(filepath.Join(bin, "gostkey"), args...)
		cmd.Env = env
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("gostkey %s: %w: %s", args[0], err, out)
		}
		return nil
	}
	cert := filepath.Join(dir, "cert.pem")
	tok := []string{"--module", lib, "--token", "batch", "--pin-file", pin}
	for _, args := range [][]string{
		{"token", "init", "--module", lib, "--label", "batch", "--so-pin-file", soPIN, "--pin-file", pin},
		append([]string{"key", "gen", "--alg", "gost256-A", "--label", "k"}, tok...),
		append([]string{"cert", "self-sign", "--key", "k", "--subject", "CN=bench batch", "--days", "30", "--out", cert}, tok...),
		append([]string{"cert", "import", "--key", "k", "--in", cert}, tok...),
	} {
		if err := gostkey(args...); err != nil {
			return row{}, err
		}
	}
	osslKey, osslCert := filepath.Join(dir, "ossl.key"), filepath.Join(dir, "ossl.pem")
	for _, args := range [][]string{
		{"genpkey", "-algorithm", "gost2012_256", "-pkeyopt", "paramset:TCA", "-out", osslKey},
		{"req", "-x509", "-new", "-key", osslKey, "-subj", "/CN=bench batch", "-days", "30", "-out", osslCert},
	} {
		if out, err := exec.Command("openssl", args...).CombinedOutput(); err != nil {
			return row{}, fmt.Errorf("openssl %s: %w: %s", args[0], err, out)
		}
	}

	docs := filepath.Join(dir, "docs")
	if err := os.Mkdir(docs, 0o700); err != nil {
		return row{}, err
	}
	files := make([]string, batchDocs)
	for i := range files {
		files[i] = filepath.Join(docs, fmt.Sprintf("doc%03d.txt", i))
		buf := make([]byte, 1024)
		rand.Read(buf)
		if err := os.WriteFile(files[i], buf, 0o600); err != nil {
			return row{}, err
		}
	}
	list := filepath.Join(dir, "list")
	if err := os.WriteFile(list, []byte(strings.Join(files, "\n")+"\n"), 0o600); err != nil {
		return row{}, err
	}

	round := 0
	ours := func() (float64, error) {
		round++
		out := filepath.Join(dir, fmt.Sprintf("out-gostkey-%d", round))
		if err := os.Mkdir(out, 0o700); err != nil {
			return 0, err
		}
		defer os.RemoveAll(out)
		cmd := exec.Command(filepath.Join(bin, "gostkey"), append([]string{"sign", "--key", "k", "--in-list", list, "--out", out}, tok...)...)
		cmd.Env = env
		start := time.Now()
		b, err := cmd.CombinedOutput()
		d := time.Since(start)
		if err != nil {
			return 0, fmt.Errorf("gostkey sign of %d documents: %w: %s", batchDocs, err, b)
		}
		if n, err := os.ReadDir(out); err != nil || len(n) != batchDocs {
			return 0, fmt.Errorf("gostkey sign wrote %d signatures for %d documents (%v)", len(n), batchDocs, err)
		}
		return float64(d.Microseconds()) / 1e3 / batchDocs, nil
	}
	theirs := func() (float64, error) {
		round++
		out := filepath.Join(dir, fmt.Sprintf("out-openssl-%d", round))
		if err := os.Mkdir(out, 0o700); err != nil {
			return 0, err
		}
		defer os.RemoveAll(out)
		var total time.Duration
		for i, f := range files {
			cmd := exec.Command("openssl", "cms", "-sign", "-binary", "-cades", "-md", "streebog256",
				"-signer", osslCert, "-inkey", osslKey, "-in", f, "-outform", "DER", "-out", filepath.Join(out, fmt.Sprintf("%d.p7s", i)))
			start := time.Now()
			b, err := cmd.CombinedOutput()
			total += time.Since(start)
			if err != nil {
				return 0, fmt.Errorf("openssl cms -sign %s: %w: %s", f, err, b)
			}
		}
		return float64(total.Microseconds()) / 1e3 / batchDocs, nil
	}
	return paired(fmt.Sprintf("sign %d × 1 KiB files (CLI, softtoken)", batchDocs), "openssl cms -sign", "ms/doc", false, ours, theirs)
}

// withoutEnv drops the named variables from an environment list.
func withoutEnv(env []string, names ...string) []string {
	var out []string
next:
	for _, kv := range env {
		for _, n := range names {
			if strings.HasPrefix(kv, n+"=") {
				continue next
			}
		}
		out = append(out, kv)
	}
	return out
}

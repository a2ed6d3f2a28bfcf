// Command bench measures gostkey's GOST primitives against OpenSSL's
// gost-engine on this machine and prints each pair with the ratio
// ours/OpenSSL:
//
//   - Streebog-256/512 throughput on 16 KiB inputs (OpenSSL: openssl speed
//     -evp) and on a 64 MiB file (OpenSSL: openssl dgst);
//   - GOST R 34.10-2012 sign and verify time of a digest on
//     tc26-256-paramSetA and tc26-512-paramSetA (OpenSSL: osslbench.c, a
//     small EVP_PKEY_sign/verify loop compiled here at run time with gcc).
//
// Both sides are measured in CPU time, not wall time: the machines this
// runs on are shared, and CPU time keeps a busy neighbour from skewing one
// side more than the other. Run it from the repository (make bench): it
// loads the gost engine through testdata/openssl-gost.cnf.
package main

import (
	"bufio"
	"bytes"
	"crypto/rand"
	_ "embed"
	"errors"
	"fmt"
	"hash"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/gostkey/gostkey/gost"
)

//go:embed osslbench/osslbench.c
var osslbenchC []byte

// Each figure is the best of rounds measurements of measureFor CPU time
// each, ours and OpenSSL's taken in turn, so that a burst of load on a
// shared machine does not decide a ratio.
const (
	measureFor = 250 * time.Millisecond
	rounds     = 5
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

type row struct {
	name        string
	ours, their float64
	unit        string
	higherWins  bool // throughput: higher is better; time: lower is better
}

func run() error {
	root, err := repoRoot()
	if err != nil {
		return err
	}
	os.Setenv("OPENSSL_CONF", filepath.Join(root, "testdata", "openssl-gost.cnf"))
	tmp, err := os.MkdirTemp("", "gostkey-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)

	var rows []row
	for _, h := range []struct {
		name string
		new  func() hash.Hash
	}{{"streebog256", gost.New256}, {"streebog512", gost.New512}} {
		var ours, theirs float64
		for range 3 {
			ours = max(ours, hashSmall(h.new, 16<<10))
			t, err := opensslSpeed(h.name, 16<<10)
			if err != nil {
				return err
			}
			theirs = max(theirs, t)
		}
		rows = append(rows, row{h.name + " 16 KiB", ours, theirs, "MB/s", true})
	}
	big := filepath.Join(tmp, "64MiB")
	if err := writeRandomFile(big, 64<<20); err != nil {
		return err
	}
	for _, h := range []struct {
		name string
		new  func() hash.Hash
	}{{"streebog256", gost.New256}, {"streebog512", gost.New512}} {
		var ours, theirs float64
		for range 3 {
			o, err := hashFile(h.new, big)
			if err != nil {
				return err
			}
			t, err := opensslDgst(h.name, big)
			if err != nil {
				return err
			}
			ours, theirs = max(ours, o), max(theirs, t)
		}
		rows = append(rows, row{h.name + " 64 MiB file", ours, theirs, "MB/s", true})
	}

	tool, err := buildOsslbench(tmp)
	if err != nil {
		return err
	}
	for _, c := range []struct {
		curve    *gost.Curve
		label    string
		alg, set string
	}{
		{gost.CurveTC26256A, "34.10-2012 256 paramSetA", "gost2012_256", "TCA"},
		{gost.CurveTC26512A, "34.10-2012 512 paramSetA", "gost2012_512", "A"},
	} {
		key := filepath.Join(tmp, c.alg+".pem")
		if out, err := exec.Command("openssl", "genpkey", "-algorithm", c.alg, "-pkeyopt", "paramset:"+c.set, "-out", key).CombinedOutput(); err != nil {
			return fmt.Errorf("openssl genpkey %s: %w: %s", c.alg, err, out)
		}
		inf := math.Inf(1)
		oursSign, oursVerify, theirSign, theirVerify := inf, inf, inf, inf
		for range rounds {
			s, v, err := signVerify(c.curve)
			if err != nil {
				return err
			}
			oursSign, oursVerify = min(oursSign, s), min(oursVerify, v)
			s, v, err = opensslSignVerify(tool, key, c.curve.Hash.Size())
			if err != nil {
				return err
			}
			theirSign, theirVerify = min(theirSign, s), min(theirVerify, v)
		}
		rows = append(rows,
			row{c.label + " sign", oursSign, theirSign, "µs", false},
			row{c.label + " verify", oursVerify, theirVerify, "µs", false})
	}

	w := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "operation\tgostkey\tOpenSSL gost-engine\tours/OpenSSL\t")
	for _, r := range rows {
		better := "lower is better"
		if r.higherWins {
			better = "higher is better"
		}
		fmt.Fprintf(w, "%s\t%8.1f %s\t%8.1f %s\t%5.2f (%s)\t\n", r.name, r.ours, r.unit, r.their, r.unit, r.ours/r.their, better)
	}
	fmt.Fprintln(w, "(CPU time per operation or per byte, both sides measured the same way)")
	return w.Flush()
}

func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "testdata", "openssl-gost.cnf")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("run from inside the gostkey repository (testdata/openssl-gost.cnf not found)")
		}
		dir = parent
	}
}

// cpuTime is the CPU time this process has used, GC included.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		panic(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// repeat runs f until measureFor of CPU time has passed and returns the
// CPU time per call.
func repeat(f func()) time.Duration {
	f() // warm up: tables, caches
	n := 0
	start := cpuTime()
	for {
		f()
		n++
		if d := cpuTime() - start; d >= measureFor {
			return d / time.Duration(n)
		}
	}
}

func mbps(bytes int, per time.Duration) float64 { return float64(bytes) / per.Seconds() / 1e6 }

func hashSmall(newHash func() hash.Hash, size int) float64 {
	buf := make([]byte, size)
	rand.Read(buf)
	h := newHash()
	return mbps(size, repeat(func() {
		h.Reset()
		h.Write(buf)
		h.Sum(nil)
	}))
}

func hashFile(newHash func() hash.Hash, path string) (float64, error) {
	info, err := os.Stat(path)
	if err != nil {
		return 0, err
	}
	var ioErr error
	per := repeat(func() {
		f, err := os.Open(path)
		if err != nil {
			ioErr = err
			return
		}
		defer f.Close()
		h := newHash()
		if _, err := io.Copy(h, f); err != nil {
			ioErr = err
		}
		h.Sum(nil)
	})
	return mbps(int(info.Size()), per), ioErr
}

func writeRandomFile(path string, size int) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := io.CopyN(f, rand.Reader, int64(size)); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// opensslSpeed runs openssl speed in machine-readable mode, which reports
// bytes per second of CPU (user) time.
func opensslSpeed(alg string, size int) (float64, error) {
	out, err := exec.Command("openssl", "speed", "-mr", "-evp", alg, "-bytes", strconv.Itoa(size), "-seconds", "1").Output()
	if err != nil {
		return 0, fmt.Errorf("openssl speed %s: %w", alg, err)
	}
	for line := range strings.Lines(string(out)) {
		if f := strings.Split(strings.TrimSpace(line), ":"); len(f) == 4 && f[0] == "+F" && f[2] == alg {
			v, err := strconv.ParseFloat(f[3], 64)
			return v / 1e6, err
		}
	}
	return 0, fmt.Errorf("openssl speed %s: no result in %q", alg, out)
}

// opensslDgst times openssl dgst over the file by the child's CPU time
// (process start-up and engine loading included, as a user running it
// would see).
func opensslDgst(alg, path string) (float64, error) {
	info, err := os.Stat(path)
	if err != nil {
		return 0, err
	}
	cmd := exec.Command("openssl", "dgst", "-"+alg, path)
	if out, err := cmd.CombinedOutput(); err != nil {
		return 0, fmt.Errorf("openssl dgst -%s: %w: %s", alg, err, out)
	}
	return mbps(int(info.Size()), cmd.ProcessState.UserTime()+cmd.ProcessState.SystemTime()), nil
}

func signVerify(c *gost.Curve) (sign, verify float64, err error) {
	priv, err := gost.GenerateKey(c, rand.Reader)
	if err != nil {
		return 0, 0, err
	}
	digest := make([]byte, c.Hash.Size())
	rand.Read(digest)
	sig, err := priv.Sign(rand.Reader, digest, nil)
	if err != nil {
		return 0, 0, err
	}
	s := repeat(func() {
		if _, err := priv.Sign(rand.Reader, digest, nil); err != nil {
			panic(err)
		}
	})
	v := repeat(func() {
		if !priv.PublicKey.Verify(digest, sig) {
			panic("bench: our own signature does not verify")
		}
	})
	return float64(s.Nanoseconds()) / 1e3, float64(v.Nanoseconds()) / 1e3, nil
}

func buildOsslbench(dir string) (string, error) {
	src := filepath.Join(dir, "osslbench.c")
	if err := os.WriteFile(src, osslbenchC, 0o600); err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "osslbench")
	if out, err := exec.Command("gcc", "-O2", "-o", bin, src, "-lcrypto").CombinedOutput(); err != nil {
		return "", fmt.Errorf("building osslbench.c (needs gcc and libssl-dev): %w: %s", err, out)
	}
	return bin, nil
}

func opensslSignVerify(tool, key string, digestLen int) (sign, verify float64, err error) {
	out, err := exec.Command(tool, key, strconv.Itoa(digestLen), strconv.FormatFloat(measureFor.Seconds(), 'f', -1, 64)).Output()
	if err != nil {
		return 0, 0, fmt.Errorf("osslbench %s: %w", key, err)
	}
	vals := map[string]float64{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		var k string
		var v float64
		if _, err := fmt.Sscan(sc.Text(), &k, &v); err == nil {
			vals[k] = v
		}
	}
	s, ok1 := vals["sign_ns"]
	v, ok2 := vals["verify_ns"]
	if !ok1 || !ok2 {
		return 0, 0, fmt.Errorf("osslbench %s: unexpected output %q", key, out)
	}
	return s / 1e3, v / 1e3, nil
}

// Command bench measures gostkey's GOST primitives against OpenSSL's
// gost-engine on this machine, and gostkey's token layer against the
// softtoken's own C_Sign, and prints each pair with the ratio
// ours/reference. What each row times is printed under the table (rowDoc).
//
// Samples are paired: each of the rounds measures our side and the
// reference one after the other (the order alternating between rounds),
// over the same window of CPU time, read from the same clock
// (CLOCK_PROCESS_CPUTIME_ID of the measuring process: ours for Go code,
// osslbench's for OpenSSL). Each row shows the medians of the two sides and
// the median of the per-round ratios with their minimum and maximum. CPU
// time, not wall time, keeps a busy neighbour on a shared machine from
// skewing one side more than the other; pairing keeps a burst of load from
// deciding a ratio. A measurement that comes out zero, negative, infinite
// or NaN stops the command with an error (exit status 1) rather than
// printing a meaningless ratio.
//
// Two parts are timed differently, each saying so in its legend: the
// 200-file batch-sign row (bin/gostkey sign against openssl cms -sign
// runs, paired the same way) by wall clock, since a user waits for the
// processes; and the CA table, a real bin/gostkey-ca serve driven over
// HTTP at 1, 4 and 16 concurrent clients (issuances/s, OCSP responses/s,
// p50/p99 latency, server CPU per operation, server RSS after
// CA_BENCH_CERTS issuances). GOSTKEY_BENCH_ONLY=primitives,token,batch,ca
// runs only the groups named.
//
// Run it from the repository after make build (make bench): it loads the
// gost engine through testdata/openssl-gost.cnf and the softtoken from
// bin/.
package main

import (
	"bufio"
	"bytes"
	"context"
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
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	p11 "github.com/miekg/pkcs11"
	"golang.org/x/sys/unix"

	"github.com/gostkey/gostkey/gost"
	"github.com/gostkey/gostkey/pkcs11"
)

//go:embed osslbench/osslbench.c
var osslbenchC []byte

// measureFor is the window of CPU time of each sample; rounds is the
// number of paired samples per row (odd, so the median is one of them).
const (
	measureFor = 250 * time.Millisecond
	rounds     = 7
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

// row is one compared operation: rounds paired samples of ours and the
// reference.
type row struct {
	name         string
	ref          string // what the reference column is
	unit         string
	higherWins   bool // throughput: higher is better; time: lower is better
	ours, theirs []float64
}

// side measures one side once: a time per operation in µs or a throughput
// in MB/s.
type side func() (float64, error)

// paired takes rounds samples of ours and theirs, alternating which goes
// first, and refuses any sample that is not a positive finite number.
func paired(name, ref, unit string, higherWins bool, ours, theirs side) (row, error) {
	r := row{name: name, ref: ref, unit: unit, higherWins: higherWins}
	for i := range rounds {
		first, second := ours, theirs
		if i%2 == 1 {
			first, second = theirs, ours
		}
		a, err := first()
		if err != nil {
			return r, fmt.Errorf("%s: %w", name, err)
		}
		b, err := second()
		if err != nil {
			return r, fmt.Errorf("%s: %w", name, err)
		}
		if i%2 == 1 {
			a, b = b, a
		}
		for _, v := range []struct {
			who string
			v   float64
		}{{"gostkey", a}, {ref, b}} {
			if !(v.v > 0) || math.IsInf(v.v, 0) {
				return r, fmt.Errorf("%s: %s measured %v %s in round %d: a zero or infinite measurement, refusing to print a ratio", name, v.who, v.v, unit, i+1)
			}
		}
		r.ours = append(r.ours, a)
		r.theirs = append(r.theirs, b)
	}
	return r, nil
}

func median(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	return s[len(s)/2]
}

func (r row) ratios() []float64 {
	out := make([]float64, len(r.ours))
	for i := range r.ours {
		out[i] = r.ours[i] / r.theirs[i]
	}
	return out
}

// rowDoc says exactly what each row times, printed under the table.
var rowDoc = []string{
	"streebog* 16 KiB: one hash of a 16 KiB buffer in memory (Reset, Write, Sum), against EVP_Digest over the same size in osslbench; MB/s of CPU time.",
	"streebog* 64 MiB file: one pass over a 64 MiB file (open, read, hash) in this process, against one `openssl dgst` run over it, whose CPU time includes its start-up and engine loading, as a user would pay it; MB/s.",
	"34.10-2012 * sign: gost.PrivateKey.Sign of a random digest with a Go key in memory (hedged nonce included), against EVP_PKEY_sign of gost-engine; no token involved. µs per signature.",
	"34.10-2012 * verify: gost.PublicKey.Verify with a key decoded (and checked) beforehand, against EVP_PKEY_verify. µs.",
	"34.10-2012 * verify incl. key decode: gost.NewPublicKey from the raw point (on-curve check and, on the cofactor-4 curves such as 256 paramSetA, the prime-order subgroup check) followed by one Verify, against the same EVP_PKEY_verify: what verifying under a key seen for the first time costs. µs.",
	"token Key.Sign: pkcs11.Key.Sign on the softtoken (session from the pool, login check, cached key handle, C_SignInit + C_Sign, one verification of the signature), against a raw C_SignInit + C_Sign on the same key handle and session kind through miekg/pkcs11. µs.",
	"token overhead: Key.Sign - raw C_Sign per round, against one gost.PublicKey.Verify measured in the same round; the target is overhead - verify ≤ 10 µs.",
	"sign 200 × 1 KiB files: wall clock of one `bin/gostkey sign --in-list LIST --out DIR` process signing 200 distinct 1 KiB files (detached CAdES-BES, one login: start-up, the softtoken's scrypt PIN KDF at its default cost, 200 token signatures, 200 files written), divided by 200, against the summed wall clock of 200 `openssl cms -sign -binary -cades -md streebog256` runs over the same files with a gost2012_256 paramSetA key and certificate in PEM files (no token, no PIN), divided by 200. ms per document.",
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
	tool, err := buildOsslbench(tmp)
	if err != nil {
		return err
	}

	var rows []row
	add := func(r row, err error) error {
		if err == nil {
			rows = append(rows, r)
		}
		return err
	}
	if err := primitives(tmp, tool, add); err != nil {
		return err
	}
	var excess []float64
	if want("token") {
		tl, ex, err := tokenLayer(root, tmp)
		if err != nil {
			return fmt.Errorf("token layer: %w", err)
		}
		rows, excess = append(rows, tl...), ex
	}
	if want("batch") {
		if err := add(batchSign(root, tmp)); err != nil {
			return fmt.Errorf("batch sign: %w", err)
		}
	}
	if len(rows) > 0 {
		if err := printRows(rows, excess); err != nil {
			return err
		}
	}
	if want("ca") {
		if err := caBench(root, tmp); err != nil {
			return fmt.Errorf("CA: %w", err)
		}
	}
	return nil
}

// want reports whether a group of rows is to run: all of them unless
// GOSTKEY_BENCH_ONLY lists some (comma-separated: primitives, token,
// batch, ca), for a quick check of one part.
func want(group string) bool {
	only := os.Getenv("GOSTKEY_BENCH_ONLY")
	return only == "" || slices.Contains(strings.Split(only, ","), group)
}

// primitives adds the hash and 34.10-2012 rows.
func primitives(tmp, tool string, add func(row, error) error) error {
	if !want("primitives") {
		return nil
	}
	for _, h := range []struct {
		name string
		new  func() hash.Hash
	}{{"streebog256", gost.New256}, {"streebog512", gost.New512}} {
		const size = 16 << 10
		err := add(paired(h.name+" 16 KiB", "OpenSSL", "MB/s", true,
			func() (float64, error) { return hashSmall(h.new, size), nil },
			func() (float64, error) { return osslHash(tool, h.name, size) }))
		if err != nil {
			return err
		}
	}
	big := filepath.Join(tmp, "64MiB")
	if err := writeRandomFile(big, 64<<20); err != nil {
		return err
	}
	for _, h := range []struct {
		name string
		new  func() hash.Hash
	}{{"streebog256", gost.New256}, {"streebog512", gost.New512}} {
		err := add(paired(h.name+" 64 MiB file", "OpenSSL", "MB/s", true,
			func() (float64, error) { return hashFile(h.new, big) },
			func() (float64, error) { return opensslDgst(h.name, big) }))
		if err != nil {
			return err
		}
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
		ours, err := newGoKey(c.curve)
		if err != nil {
			return err
		}
		osslSign := func() (float64, error) { s, _, err := osslSignVerify(tool, key, c.curve.Hash.Size()); return s, err }
		osslVerify := func() (float64, error) { _, v, err := osslSignVerify(tool, key, c.curve.Hash.Size()); return v, err }
		if err := add(paired(c.label+" sign", "OpenSSL", "µs", false, ours.sign, osslSign)); err != nil {
			return err
		}
		if err := add(paired(c.label+" verify", "OpenSSL", "µs", false, ours.verify, osslVerify)); err != nil {
			return err
		}
		if err := add(paired(c.label+" verify incl. key decode", "OpenSSL", "µs", false, ours.decodeVerify, osslVerify)); err != nil {
			return err
		}
	}

	return nil
}

// printRows prints the paired rows, the token layer's overhead when it was
// measured, and what each row times.
func printRows(rows []row, excess []float64) error {
	w := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintf(w, "operation\tgostkey (median)\treference (median)\tours/reference: median [min–max] of %d paired rounds\t\n", rounds)
	for _, r := range rows {
		better := "lower is better"
		if r.higherWins {
			better = "higher is better"
		}
		ratios := r.ratios()
		fmt.Fprintf(w, "%s\t%8.1f %s\t%8.1f %s (%s)\t%5.2f [%.2f–%.2f] (%s)\t\n", r.name,
			median(r.ours), r.unit, median(r.theirs), r.unit, r.ref,
			median(ratios), slices.Min(ratios), slices.Max(ratios), better)
	}
	if err := w.Flush(); err != nil {
		return err
	}
	if excess != nil {
		fmt.Printf("token layer: overhead - one verification = %.1f µs median [%.1f–%.1f] (target ≤ 10 µs)\n\n",
			median(excess), slices.Min(excess), slices.Max(excess))
	}
	fmt.Println("What each row times (CPU time of the measuring process, both sides of a row over the same window, unless the row says wall clock):")
	for _, d := range rowDoc {
		fmt.Println("  - " + d)
	}
	return nil
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

// cpuTime is this process's CPU time (CLOCK_PROCESS_CPUTIME_ID, as
// osslbench reads for OpenSSL's side), GC included.
func cpuTime() time.Duration {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_PROCESS_CPUTIME_ID, &ts); err != nil {
		panic(err)
	}
	return time.Duration(ts.Nano())
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

func micros(d time.Duration) float64 { return float64(d.Nanoseconds()) / 1e3 }

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

// hashFile times one pass over the file.
func hashFile(newHash func() hash.Hash, path string) (float64, error) {
	info, err := os.Stat(path)
	if err != nil {
		return 0, err
	}
	start := cpuTime()
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	h := newHash()
	if _, err := io.Copy(h, f); err != nil {
		return 0, err
	}
	h.Sum(nil)
	return mbps(int(info.Size()), cpuTime()-start), nil
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

// opensslDgst times one openssl dgst run over the file by the child's CPU
// time (process start-up and engine loading included, as a user running it
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

// goKey is a Go key with a signature to verify, for the sign and verify
// rows.
type goKey struct {
	priv        *gost.PrivateKey
	raw, digest []byte
	sig         []byte
}

func newGoKey(c *gost.Curve) (*goKey, error) {
	priv, err := gost.GenerateKey(c, rand.Reader)
	if err != nil {
		return nil, err
	}
	digest := make([]byte, c.Hash.Size())
	rand.Read(digest)
	sig, err := priv.Sign(rand.Reader, digest, nil)
	if err != nil {
		return nil, err
	}
	// The verify rows use a key decoded as a certificate's would be.
	return &goKey{priv: priv, raw: priv.PublicKey.Bytes(), digest: digest, sig: sig}, nil
}

func (k *goKey) sign() (float64, error) {
	var err error
	d := repeat(func() {
		if err == nil {
			_, err = k.priv.Sign(rand.Reader, k.digest, nil)
		}
	})
	return micros(d), err
}

func (k *goKey) verify() (float64, error) {
	pub, err := gost.NewPublicKey(k.priv.Curve, k.raw)
	if err != nil {
		return 0, err
	}
	ok := true
	d := repeat(func() { ok = ok && pub.Verify(k.digest, k.sig) })
	if !ok {
		return 0, errors.New("our own signature does not verify")
	}
	return micros(d), nil
}

func (k *goKey) decodeVerify() (float64, error) {
	var err error
	ok := true
	d := repeat(func() {
		pub, e := gost.NewPublicKey(k.priv.Curve, k.raw)
		if e != nil {
			err = e
			return
		}
		ok = ok && pub.Verify(k.digest, k.sig)
	})
	if err == nil && !ok {
		err = errors.New("our own signature does not verify")
	}
	return micros(d), err
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

// osslbench runs the tool and returns the values it prints by name.
func osslbench(tool string, args ...string) (map[string]float64, error) {
	args = append(args, strconv.FormatFloat(measureFor.Seconds(), 'f', -1, 64))
	out, err := exec.Command(tool, args...).Output()
	if err != nil {
		return nil, fmt.Errorf("osslbench %s: %w", strings.Join(args, " "), err)
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
	return vals, nil
}

func osslHash(tool, alg string, size int) (float64, error) {
	vals, err := osslbench(tool, "hash", alg, strconv.Itoa(size))
	if err != nil {
		return 0, err
	}
	ns, ok := vals["hash_ns"]
	if !ok {
		return 0, fmt.Errorf("osslbench hash %s: no hash_ns in its output", alg)
	}
	return mbps(size, time.Duration(ns)), nil
}

func osslSignVerify(tool, key string, digestLen int) (sign, verify float64, err error) {
	vals, err := osslbench(tool, "sign", key, strconv.Itoa(digestLen))
	if err != nil {
		return 0, 0, err
	}
	s, ok1 := vals["sign_ns"]
	v, ok2 := vals["verify_ns"]
	if !ok1 || !ok2 {
		return 0, 0, fmt.Errorf("osslbench sign %s: no sign_ns and verify_ns in its output", key)
	}
	return s / 1e3, v / 1e3, nil
}

// tokenLayer measures pkcs11.Key.Sign against a raw C_SignInit + C_Sign on
// a TC26-256-A key of a fresh softtoken token, and the overhead against
// one verification; excess is, per round, the overhead minus the
// verification.
func tokenLayer(root, tmp string) (rows []row, excess []float64, err error) {
	lib := filepath.Join(root, "bin", "libgostkey-softtoken.so")
	if _, err := os.Stat(lib); err != nil {
		return nil, nil, fmt.Errorf("%w (run make build)", err)
	}
	dir := filepath.Join(tmp, "tokens")
	if err := os.Mkdir(dir, 0o700); err != nil {
		return nil, nil, err
	}
	os.Setenv("GOSTKEY_SOFTTOKEN_DIR", dir)
	os.Unsetenv("GOSTKEY_SOFTTOKEN_CONF")
	const soPIN, userPIN = "87654321", "12345678"
	ctx := context.Background()
	m, err := pkcs11.Open(lib, pkcs11.Options{})
	if err != nil {
		return nil, nil, err
	}
	defer m.Close()
	tok, err := m.InitToken(ctx, "bench", pkcs11.NewPIN([]byte(soPIN)), pkcs11.NewPIN([]byte(userPIN)))
	if err != nil {
		return nil, nil, err
	}
	if err := tok.Login(ctx, func(context.Context, pkcs11.PINRequest) (pkcs11.PIN, error) {
		return pkcs11.NewPIN([]byte(userPIN)), nil
	}); err != nil {
		return nil, nil, err
	}
	key, err := tok.GenerateKey(ctx, pkcs11.KeySpec{Label: "bench", Curve: gost.CurveTC26256A})
	if err != nil {
		return nil, nil, err
	}
	pub := key.Public().(*gost.PublicKey)
	digest := gost.Sum256([]byte("bench"))

	// The raw side: the same library through miekg/pkcs11 directly (the
	// login belongs to the application, so its session is logged in too).
	raw := p11.New(lib)
	if raw == nil {
		return nil, nil, fmt.Errorf("loading %s", lib)
	}
	if err := raw.Initialize(); err != nil && !errors.Is(err, p11.Error(p11.CKR_CRYPTOKI_ALREADY_INITIALIZED)) {
		return nil, nil, err
	}
	s, err := raw.OpenSession(tok.SlotID(), p11.CKF_SERIAL_SESSION|p11.CKF_RW_SESSION)
	if err != nil {
		return nil, nil, err
	}
	defer raw.CloseSession(s)
	if err := raw.FindObjectsInit(s, []*p11.Attribute{
		p11.NewAttribute(p11.CKA_CLASS, p11.CKO_PRIVATE_KEY), p11.NewAttribute(p11.CKA_ID, key.ID()),
	}); err != nil {
		return nil, nil, err
	}
	hs, _, err := raw.FindObjects(s, 2)
	if ferr := raw.FindObjectsFinal(s); err == nil {
		err = ferr
	}
	if err != nil {
		return nil, nil, err
	}
	if len(hs) != 1 {
		return nil, nil, fmt.Errorf("%d private keys with the bench key's CKA_ID", len(hs))
	}
	mech := []*p11.Mechanism{p11.NewMechanism(pkcs11.CKM_GOSTR3410, nil)}

	keySign := func() (float64, error) {
		var err error
		d := repeat(func() {
			if err == nil {
				_, err = key.Sign(nil, digest[:], nil)
			}
		})
		return micros(d), err
	}
	rawSign := func() (float64, error) {
		var err error
		d := repeat(func() {
			if err == nil {
				if err = raw.SignInit(s, mech, hs[0]); err == nil {
					_, err = raw.Sign(s, digest[:])
				}
			}
		})
		return micros(d), err
	}
	sig, err := key.Sign(nil, digest[:], nil)
	if err != nil {
		return nil, nil, err
	}
	verify := func() (float64, error) {
		ok := true
		d := repeat(func() { ok = ok && pub.Verify(digest[:], sig) })
		if !ok {
			return 0, errors.New("the token's signature does not verify")
		}
		return micros(d), nil
	}

	signRow, err := paired("token Key.Sign (softtoken, 256 paramSetA)", "raw C_Sign", "µs", false, keySign, rawSign)
	if err != nil {
		return nil, nil, err
	}
	// The overhead of each round, against one verification in that round.
	over := row{name: "token overhead (Key.Sign - C_Sign)", ref: "one Verify", unit: "µs"}
	for i := range rounds {
		v, err := verify()
		if err != nil {
			return nil, nil, err
		}
		o := signRow.ours[i] - signRow.theirs[i]
		if !(o > 0) || math.IsInf(o, 0) || !(v > 0) || math.IsInf(v, 0) {
			return nil, nil, fmt.Errorf("token overhead: %v µs against a verification of %v µs in round %d: a zero, negative or infinite measurement", o, v, i+1)
		}
		over.ours = append(over.ours, o)
		over.theirs = append(over.theirs, v)
	}
	excess = make([]float64, rounds)
	for i := range excess {
		excess[i] = over.ours[i] - over.theirs[i]
	}
	return []row{signRow, over}, excess, nil
}

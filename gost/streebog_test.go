package gost

import (
	"bytes"
	"crypto/hmac"
	"encoding"
	"encoding/asn1"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"math/big"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gostkey/gostkey/internal/testkit"
)

func mustHex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// RFC 6986 §10 examples (bytes as the hash outputs them, fact sheet §6.1)
// and the empty input.
func TestStreebogVectors(t *testing.T) {
	m1 := []byte("012345678901234567890123456789012345678901234567890123456789012")
	m2 := mustHex(t, "d1e520e2e5f2f0e82c20d1f2f0e8e1eee6e820e2edf3f6e82c20e2e5fef2fa20f120eceef0ff20f1f2f0e5ebe0ece820ede020f5f0e0e1f0fbff20efebfaeafb20c8e3eef0e5e2fb")
	tests := []struct {
		name string
		msg  []byte
		d256 string
		d512 string
	}{
		{"M1", m1,
			"9d151eefd8590b89daa6ba6cb74af9275dd051026bb149a452fd84e5e57b5500",
			"1b54d01a4af5b9d5cc3d86d68d285462b19abc2475222f35c085122be4ba1ffa00ad30f8767b3a82384c6574f024c311e2a481332b08ef7f41797891c1646f48"},
		{"M2", m2,
			"9dd2fe4e90409e5da87f53976d7405b0c0cac628fc669a741d50063c557e8f50",
			"1e88e62226bfca6f9994f1f2d51569e0daf8475a3b0fe61a5300eee46d961376035fe83549ada2b8620fcd7c496ce5b33f0cb9dddc2b6460143b03dabac9fb28"},
		{"empty", nil,
			"3f539a213e97c802cc229d474c6aa32a825a360b2a933a949fd925208d9ce1bb",
			"8e945da209aa869f0455928529bcae4679e9873ab707b55315f56ceb98bef0a7362f715528356ee83cda5f2aac4c6ad2ba3a715c1bcd81cb8e9f90bf4c1c1a8a"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s256, s512 := Sum256(tc.msg), Sum512(tc.msg)
			if got := hex.EncodeToString(s256[:]); got != tc.d256 {
				t.Errorf("Sum256 = %s, want %s", got, tc.d256)
			}
			if got := hex.EncodeToString(s512[:]); got != tc.d512 {
				t.Errorf("Sum512 = %s, want %s", got, tc.d512)
			}
			for _, h := range []struct {
				h    hash.Hash
				want string
			}{{New256(), tc.d256}, {New512(), tc.d512}} {
				h.h.Write(tc.msg)
				if got := hex.EncodeToString(h.h.Sum(nil)); got != h.want {
					t.Errorf("%d-byte hash.Hash = %s, want %s", h.h.Size(), got, h.want)
				}
			}
		})
	}
}

// The digest RFC 9215 example 1 signs: Streebog-256 over its
// tbsCertificate (fact sheet §6.3).
func TestStreebogRFC9215Example1(t *testing.T) {
	der, err := os.ReadFile(filepath.Join(testkit.VectorsDir(), "rfc9215_ex1.der"))
	if err != nil {
		t.Fatal(err)
	}
	var cert struct {
		TBS, Algorithm asn1.RawValue
		Signature      asn1.BitString
	}
	if _, err := asn1.Unmarshal(der, &cert); err != nil {
		t.Fatal(err)
	}
	got := Sum256(cert.TBS.FullBytes)
	if want := "afecc67f740bfc461f87bfa2f5e4185e68dde304efe6a98b777cdc031ffd8743"; hex.EncodeToString(got[:]) != want {
		t.Errorf("Streebog-256(tbsCertificate) = %x, want %s", got, want)
	}
}

func TestStreebogInterface(t *testing.T) {
	for _, tc := range []struct {
		h    hash.Hash
		size int
		alg  Hash
	}{{New256(), Size256, Streebog256}, {New512(), Size512, Streebog512}} {
		if tc.h.Size() != tc.size || tc.h.BlockSize() != BlockSize {
			t.Errorf("Size, BlockSize = %d, %d; want %d, %d", tc.h.Size(), tc.h.BlockSize(), tc.size, BlockSize)
		}
		if got := tc.alg.New().Size(); got != tc.size {
			t.Errorf("%v.New().Size() = %d, want %d", tc.alg, got, tc.size)
		}
		if _, ok := tc.h.(encoding.BinaryMarshaler); !ok {
			t.Errorf("%d-byte hash is not a BinaryMarshaler", tc.size)
		}
		if _, ok := tc.h.(encoding.BinaryAppender); !ok {
			t.Errorf("%d-byte hash is not a BinaryAppender", tc.size)
		}
		if _, ok := tc.h.(hash.Cloner); !ok {
			t.Errorf("%d-byte hash is not a hash.Cloner", tc.size)
		}
	}
}

// oneShot is the reference every streaming test compares against.
func oneShot(size int, msg []byte) []byte {
	if size == Size256 {
		s := Sum256(msg)
		return s[:]
	}
	s := Sum512(msg)
	return s[:]
}

func newHash(size int) hash.Hash {
	if size == Size256 {
		return New256()
	}
	return New512()
}

func TestStreebogStreaming(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	msg := make([]byte, 1000)
	for i := range msg {
		msg[i] = byte(rng.Uint32())
	}
	for _, size := range []int{Size256, Size512} {
		for _, n := range []int{0, 1, 63, 64, 65, 127, 128, 129, 500, 1000} {
			want := oneShot(size, msg[:n])
			// Every chunk size from 1 to 130 bytes, then random splits.
			for chunk := 1; chunk <= 130; chunk++ {
				h := newHash(size)
				for p := msg[:n]; len(p) > 0; {
					c := min(chunk, len(p))
					h.Write(p[:c])
					p = p[c:]
				}
				if got := h.Sum(nil); !bytes.Equal(got, want) {
					t.Fatalf("size %d, len %d, chunk %d: %x, want %x", size, n, chunk, got, want)
				}
			}
			h := newHash(size)
			for p := msg[:n]; len(p) > 0; {
				c := min(rng.IntN(200), len(p))
				h.Write(p[:c])
				p = p[c:]
			}
			if got := h.Sum(nil); !bytes.Equal(got, want) {
				t.Fatalf("size %d, len %d, random split: %x, want %x", size, n, got, want)
			}
		}
	}
}

func TestStreebogClone(t *testing.T) {
	for _, size := range []int{Size256, Size512} {
		h := newHash(size)
		h.Write([]byte("common prefix, long enough to fill one 64-byte block and then some"))
		c, err := h.(hash.Cloner).Clone()
		if err != nil {
			t.Fatal(err)
		}
		h.Write([]byte("a"))
		c.Write([]byte("b"))
		ha, hb := h.Sum(nil), c.Sum(nil)
		if want := oneShot(size, []byte("common prefix, long enough to fill one 64-byte block and then somea")); !bytes.Equal(ha, want) {
			t.Errorf("size %d: original after clone = %x, want %x", size, ha, want)
		}
		if want := oneShot(size, []byte("common prefix, long enough to fill one 64-byte block and then someb")); !bytes.Equal(hb, want) {
			t.Errorf("size %d: clone = %x, want %x", size, hb, want)
		}
	}
}

// Sum must append and leave the state alone; Reset must start over.
func TestStreebogSumReset(t *testing.T) {
	for _, size := range []int{Size256, Size512} {
		h := newHash(size)
		h.Write([]byte("hello, "))
		prefix := []byte("prefix")
		got := h.Sum(bytes.Clone(prefix))
		if !bytes.HasPrefix(got, prefix) || !bytes.Equal(got[len(prefix):], oneShot(size, []byte("hello, "))) {
			t.Errorf("size %d: Sum(prefix) = %x", size, got)
		}
		h.Write([]byte("world"))
		if got, want := h.Sum(nil), oneShot(size, []byte("hello, world")); !bytes.Equal(got, want) {
			t.Errorf("size %d: Sum after more writes = %x, want %x", size, got, want)
		}
		h.Reset()
		if got, want := h.Sum(nil), oneShot(size, nil); !bytes.Equal(got, want) {
			t.Errorf("size %d: after Reset = %x, want %x", size, got, want)
		}
	}
}

// Hashing must not allocate: Write compresses in place, Sum works on a
// copy of the state, and Sum256/Sum512 keep everything on the stack.
func TestStreebogAllocs(t *testing.T) {
	msg := make([]byte, 1000)
	out := make([]byte, 0, Size512)
	for _, size := range []int{Size256, Size512} {
		h := newHash(size)
		if n := testing.AllocsPerRun(10, func() {
			h.Reset()
			h.Write(msg[:3])
			h.Write(msg)
			out = h.Sum(out[:0])
		}); n != 0 {
			t.Errorf("size %d: Write+Sum allocate %v times", size, n)
		}
	}
	if n := testing.AllocsPerRun(10, func() { Sum256(msg); Sum512(msg) }); n != 0 {
		t.Errorf("Sum256+Sum512 allocate %v times", n)
	}
}

func TestStreebogMarshal(t *testing.T) {
	msg := make([]byte, 300)
	for i := range msg {
		msg[i] = byte(i * 7)
	}
	for _, size := range []int{Size256, Size512} {
		want := oneShot(size, msg)
		for _, cut := range []int{0, 1, 63, 64, 65, 128, 200, 300} {
			h := newHash(size)
			h.Write(msg[:cut])
			state, err := h.(encoding.BinaryMarshaler).MarshalBinary()
			if err != nil {
				t.Fatal(err)
			}
			h2 := newHash(size)
			h2.Write([]byte("garbage that the restore must overwrite"))
			if err := h2.(encoding.BinaryUnmarshaler).UnmarshalBinary(state); err != nil {
				t.Fatalf("size %d, cut %d: %v", size, cut, err)
			}
			h2.Write(msg[cut:])
			if got := h2.Sum(nil); !bytes.Equal(got, want) {
				t.Errorf("size %d, cut %d: restored digest %x, want %x", size, cut, got, want)
			}
			// The original is untouched by marshaling.
			h.Write(msg[cut:])
			if got := h.Sum(nil); !bytes.Equal(got, want) {
				t.Errorf("size %d, cut %d: original digest %x, want %x", size, cut, got, want)
			}
			app, err := h2.(encoding.BinaryAppender).AppendBinary([]byte("x"))
			if err != nil || app[0] != 'x' || len(app) != 1+len(state) {
				t.Errorf("AppendBinary = %x, %v", app, err)
			}
		}
	}
}

func TestStreebogUnmarshalRejects(t *testing.T) {
	h256, h512 := New256(), New512()
	h256.Write([]byte("abc"))
	good, _ := h256.(encoding.BinaryMarshaler).MarshalBinary()
	other, _ := h512.(encoding.BinaryMarshaler).MarshalBinary()
	mutate := func(f func(b []byte) []byte) []byte { return f(bytes.Clone(good)) }
	const nxAt = streebogMarshaledLen - 1
	tests := []struct {
		name  string
		state []byte
		want  string
	}{
		{"empty", nil, "identifier"},
		{"other size", other, "other Streebog size"},
		{"bad magic", mutate(func(b []byte) []byte { b[0] ^= 1; return b }), "identifier"},
		{"short", good[:len(good)-1], "size mismatch"},
		{"long", append(bytes.Clone(good), 0), "size mismatch"},
		{"nx too big", mutate(func(b []byte) []byte { b[nxAt] = BlockSize; return b }), "inconsistent"},
		{"partial N", mutate(func(b []byte) []byte { b[len(streebogMagic256)+64+7] = 8; return b }), "inconsistent"},
		{"dirty padding", mutate(func(b []byte) []byte { b[nxAt-1] = 1; return b }), "padding"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := New256()
			h.Write([]byte("keep me"))
			before := h.Sum(nil)
			err := h.(encoding.BinaryUnmarshaler).UnmarshalBinary(tc.state)
			if !errors.Is(err, ErrStreebogState) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("UnmarshalBinary = %v, want ErrStreebogState mentioning %q", err, tc.want)
			}
			if !bytes.Equal(h.Sum(nil), before) {
				t.Error("a rejected state changed the hash")
			}
		})
	}
}

// TestStreebogOpenSSL compares with `openssl dgst` on random inputs: every
// length 0..200, a spread up to 10 000 that hits each block-boundary
// residue, and a few megabytes. All files go to one openssl invocation per
// digest size to keep process starts few.
func TestStreebogOpenSSL(t *testing.T) {
	testkit.RequireOpenSSL(t)
	rng := rand.New(rand.NewPCG(6986, 2012))
	var lengths []int
	for n := 0; n <= 200; n++ {
		lengths = append(lengths, n)
	}
	for n := 201; n <= 10000; n += 37 + rng.IntN(60) {
		lengths = append(lengths, n)
	}
	lengths = append(lengths, 4095, 4096, 4097, 8191, 8192, 10000, 3<<20+17)
	if testing.Short() {
		lengths = lengths[:len(lengths)-1]
	}

	dir := t.TempDir()
	files := make([]string, len(lengths))
	msgs := make([][]byte, len(lengths))
	for i, n := range lengths {
		msgs[i] = make([]byte, n)
		for j := range msgs[i] {
			msgs[i][j] = byte(rng.Uint32())
		}
		files[i] = filepath.Join(dir, fmt.Sprintf("m%05d", i))
		if err := os.WriteFile(files[i], msgs[i], 0o600); err != nil {
			t.Fatal(err)
		}
	}
	for _, size := range []int{Size256, Size512} {
		alg := fmt.Sprintf("-streebog%d", size*8)
		out := testkit.OpenSSL(t, nil, append([]string{"dgst", alg, "-r"}, files...)...)
		lines := strings.Split(strings.TrimSpace(string(out)), "\n")
		if len(lines) != len(files) {
			t.Fatalf("openssl dgst printed %d lines for %d files", len(lines), len(files))
		}
		for i, line := range lines {
			// -r prints "<hex> *<file>".
			want, file, ok := strings.Cut(line, " ")
			if !ok || strings.TrimPrefix(file, "*") != files[i] {
				t.Fatalf("unexpected openssl line %q", line)
			}
			if got := hex.EncodeToString(oneShot(size, msgs[i])); got != want {
				t.Errorf("streebog%d of %d random bytes: ours %s, openssl %s", size*8, len(msgs[i]), got, want)
			}
		}
	}
}

// HMAC depends on BlockSize being right. The fixed vectors are the
// HMAC_GOSTR3411_2012_256/512 examples of RFC 7836 §4.1; the OpenSSL
// cases add a key longer than a block, which HMAC hashes first.
func TestStreebogHMAC(t *testing.T) {
	key := make([]byte, 32)
	for i := range key {
		key[i] = byte(i)
	}
	data := mustHex(t, "0126bdb87800af214341456563780100")
	for _, tc := range []struct {
		size int
		want string
	}{
		{Size256, "a1aa5f7de402d7b3d323f2991c8d4534013137010a83754fd0af6d7cd4922ed9"},
		{Size512, "a59bab22ecae19c65fbde6e5f4e9f5d8549d31f037f9df9b905500e171923a773d5f1530f2ed7e964cb2eedc29e9ad2f3afe93b2814f79f5000ffc0366c251e6"},
	} {
		m := hmac.New(func() hash.Hash { return newHash(tc.size) }, key)
		m.Write(data)
		if got := hex.EncodeToString(m.Sum(nil)); got != tc.want {
			t.Errorf("HMAC-Streebog-%d = %s, want %s", tc.size*8, got, tc.want)
		}
	}

	testkit.RequireOpenSSL(t)
	rng := rand.New(rand.NewPCG(7836, 4))
	for _, keyLen := range []int{1, 64, 100} {
		key := make([]byte, keyLen)
		msg := make([]byte, 1000)
		for i := range key {
			key[i] = byte(rng.Uint32())
		}
		for i := range msg {
			msg[i] = byte(rng.Uint32())
		}
		file := testkit.WriteFile(t, "msg", msg)
		for _, size := range []int{Size256, Size512} {
			out := testkit.OpenSSL(t, nil, "mac", "-digest", fmt.Sprintf("streebog%d", size*8),
				"-macopt", "hexkey:"+hex.EncodeToString(key), "-in", file, "HMAC")
			m := hmac.New(func() hash.Hash { return newHash(size) }, key)
			m.Write(msg)
			if got, want := hex.EncodeToString(m.Sum(nil)), strings.ToLower(strings.TrimSpace(string(out))); got != want {
				t.Errorf("HMAC-Streebog-%d, %d-byte key: ours %s, openssl %s", size*8, keyLen, got, want)
			}
		}
	}
}

// N and Σ are 512-bit numbers taken modulo 2^512; check the carries
// against math/big, including the wrap at the top.
func TestStreebogAdd512(t *testing.T) {
	toBig := func(x [8]uint64) *big.Int {
		v := new(big.Int)
		for i := 7; i >= 0; i-- {
			v.Lsh(v, 64).Or(v, new(big.Int).SetUint64(x[i]))
		}
		return v
	}
	mod := new(big.Int).Lsh(big.NewInt(1), 512)
	ones := [8]uint64{^uint64(0), ^uint64(0), ^uint64(0), ^uint64(0), ^uint64(0), ^uint64(0), ^uint64(0), ^uint64(0)}
	rng := rand.New(rand.NewPCG(512, 512))
	var random [8]uint64
	for i := range random {
		random[i] = rng.Uint64()
	}
	for _, x := range [][8]uint64{{}, ones, {^uint64(0), ^uint64(0), 5}, random} {
		for _, y := range [][8]uint64{{}, {1}, {512}, ones, random} {
			want := new(big.Int).Add(toBig(x), toBig(y))
			want.Mod(want, mod)
			got := x
			addVec512(&got, &y)
			if toBig(got).Cmp(want) != 0 {
				t.Errorf("addVec512(%x, %x) = %x", x, y, got)
			}
			if [7]uint64(y[1:]) == [7]uint64{} { // y fits add512
				got = x
				add512(&got, y[0])
				if toBig(got).Cmp(want) != 0 {
					t.Errorf("add512(%x, %d) = %x", x, y[0], got)
				}
			}
		}
	}
}

// FuzzStreebog checks that any split of the input and a marshal/restore at
// the split point give the one-shot digest.
func FuzzStreebog(f *testing.F) {
	f.Add([]byte(""), uint16(0), false)
	f.Add([]byte("012345678901234567890123456789012345678901234567890123456789012"), uint16(10), true)
	f.Add(bytes.Repeat([]byte{0xff}, 64), uint16(64), false)
	f.Add(bytes.Repeat([]byte{0xa5}, 200), uint16(65), true)
	f.Fuzz(func(t *testing.T, msg []byte, split uint16, big bool) {
		size := Size256
		if big {
			size = Size512
		}
		want := oneShot(size, msg)
		cut := int(split) % (len(msg) + 1)
		h := newHash(size)
		h.Write(msg[:cut])
		state, err := h.(encoding.BinaryMarshaler).MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		h.Write(msg[cut:])
		if got := h.Sum(nil); !bytes.Equal(got, want) {
			t.Fatalf("split at %d: %x, want %x", cut, got, want)
		}
		r := newHash(size)
		if err := r.(encoding.BinaryUnmarshaler).UnmarshalBinary(state); err != nil {
			t.Fatal(err)
		}
		r.Write(msg[cut:])
		if got := r.Sum(nil); !bytes.Equal(got, want) {
			t.Fatalf("restored at %d: %x, want %x", cut, got, want)
		}
		// Arbitrary bytes as a state must be rejected or restore cleanly.
		if err := r.(encoding.BinaryUnmarshaler).UnmarshalBinary(msg); err == nil {
			r.Sum(nil)
		}
	})
}

func benchmarkStreebog(b *testing.B, size, n int) {
	h := newHash(size)
	buf := make([]byte, n)
	out := make([]byte, 0, Size512)
	b.SetBytes(int64(n))
	b.ReportAllocs()
	for b.Loop() {
		h.Reset()
		h.Write(buf)
		out = h.Sum(out[:0])
	}
}

func BenchmarkStreebog256(b *testing.B) {
	for _, n := range []int{64, 1024, 16 << 10, 1 << 20} {
		b.Run(fmt.Sprint(n), func(b *testing.B) { benchmarkStreebog(b, Size256, n) })
	}
}

func BenchmarkStreebog512(b *testing.B) {
	for _, n := range []int{64, 16 << 10, 1 << 20} {
		b.Run(fmt.Sprint(n), func(b *testing.B) { benchmarkStreebog(b, Size512, n) })
	}
}

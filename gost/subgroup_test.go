package gost

import (
	cryptorand "crypto/rand"
	"errors"
	"math/big"
	mrand "math/rand/v2"
	"testing"
)

// The cofactor-4 curves (TC26-256-A, TC26-512-C) have points of order 2
// and 4 besides the subgroup of prime order Q that keys live in. A public
// key with a small-order component lets signatures be forged without the
// private key: for Q = T of order m | 4, C = z1·G + z2·T is z1·G whenever
// m divides z2, so (r, s) = (x(k·G) mod q, k·e mod q) verifies for a
// fraction 1/m of the digests.

// smallOrderPoints returns every point of order 2 or 4 of c it finds as
// [q]·R for points R of c (the group has order 4q with q odd, so [q]R
// lies in the 4-torsion), found by trying x = 1, 2, … for which
// x³ + a·x + b is a square. It fails the test unless it finds a point of
// order 2, and one of order 4 on each curve (both curves are birationally
// twisted Edwards curves with a square coefficient a, which have a
// rational point of order 4).
func smallOrderPoints(t *testing.T, c *Curve) (order2, order4 []refPoint) {
	t.Helper()
	seen := map[string]bool{}
	add := func(p refPoint) {
		if p.isInf() || seen[p.x.String()+","+p.y.String()] {
			return
		}
		seen[p.x.String()+","+p.y.String()] = true
		if refAdd(c, p, p).isInf() {
			order2 = append(order2, p)
		} else {
			order4 = append(order4, p)
		}
	}
	for x := int64(1); x < 200 && len(seen) < 3; x++ {
		bx := big.NewInt(x)
		rhs := new(big.Int).Mul(bx, bx)
		rhs.Add(rhs, c.A).Mul(rhs, bx).Add(rhs, c.B).Mod(rhs, c.P)
		y := new(big.Int).ModSqrt(rhs, c.P)
		if y == nil {
			continue
		}
		r := refPoint{bx, y}
		if !refOnCurve(c, r.x, r.y) {
			t.Fatalf("%s: (%v, %v) is not on the curve", c.Name, r.x, r.y)
		}
		tp := refMul(c, c.Q, r)
		if !tp.isInf() && !refMul(c, big.NewInt(4), tp).isInf() {
			t.Fatalf("%s: [q]R has order above 4: the cofactor is not 4", c.Name)
		}
		add(tp)
		if !tp.isInf() {
			add(refAdd(c, tp, tp))
			add(refPoint{tp.x, new(big.Int).Mod(new(big.Int).Neg(tp.y), c.P)})
		}
	}
	if len(order2) != 1 || len(order4) != 2 {
		t.Fatalf("%s: found %d points of order 2 and %d of order 4, want 1 and 2 (a cyclic 4-torsion)", c.Name, len(order2), len(order4))
	}
	for _, p := range order2 {
		if p.y.Sign() != 0 {
			t.Fatalf("%s: point of order 2 with y ≠ 0", c.Name)
		}
	}
	return order2, order4
}

// badKeys are the public keys a curve must refuse: each small-order point,
// and a genuine key plus each of them.
func badKeys(t *testing.T, c *Curve) map[string]refPoint {
	t.Helper()
	o2, o4 := smallOrderPoints(t, c)
	priv, err := GenerateKey(c, nil)
	if err != nil {
		t.Fatal(err)
	}
	genuine := refPoint{priv.X, priv.Y}
	keys := map[string]refPoint{
		"order 2":             o2[0],
		"order 4":             o4[0],
		"order 4 (negated)":   o4[1],
		"genuine + order 2":   refAdd(c, genuine, o2[0]),
		"genuine + order 4":   refAdd(c, genuine, o4[0]),
		"genuine + order 4 b": refAdd(c, genuine, o4[1]),
	}
	for name, p := range keys {
		if p.isInf() || !refOnCurve(c, p.x, p.y) {
			t.Fatalf("%s %s: not an affine point of the curve", c.Name, name)
		}
	}
	return keys
}

func rawPoint(c *Curve, p refPoint) []byte {
	raw := make([]byte, 2*c.size)
	leFill(raw[:c.size], p.x)
	leFill(raw[c.size:], p.y)
	return raw
}

func cofactor4Curves() []*Curve {
	var out []*Curve
	for _, c := range allCurves {
		if c.Cofactor != 1 {
			out = append(out, c)
		}
	}
	return out
}

func TestCofactor4CurvesListed(t *testing.T) {
	got := cofactor4Curves()
	if len(got) != 2 || got[0] != CurveTC26256A || got[1] != CurveTC26512C {
		t.Fatalf("cofactor-4 curves: %v, want TC26-256-A and TC26-512-C", got)
	}
	for _, c := range got {
		if c.Cofactor != 4 {
			t.Fatalf("%s: cofactor %d, want 4", c.Name, c.Cofactor)
		}
	}
}

func TestNewPublicKeyRefusesSmallOrder(t *testing.T) {
	for _, c := range cofactor4Curves() {
		for name, p := range badKeys(t, c) {
			pub, err := NewPublicKey(c, rawPoint(c, p))
			if !errors.Is(err, ErrInvalidKey) || pub != nil || !errors.Is(err, ErrNotInSubgroup) {
				t.Errorf("%s %s: NewPublicKey = %v, %v; want ErrNotInSubgroup", c.Name, name, pub, err)
			}
			if _, err := ParsePKIXPublicKey(wantSPKI(c, rawPoint(c, p), false)); !errors.Is(err, ErrNotInSubgroup) || !errors.Is(err, ErrBadPublicKey) {
				t.Errorf("%s %s: ParsePKIXPublicKey error %v, want ErrNotInSubgroup and ErrBadPublicKey", c.Name, name, err)
			}
			lit := &PublicKey{Curve: c, X: p.x, Y: p.y}
			if _, err := MarshalPKIXPublicKey(lit); !errors.Is(err, ErrNotInSubgroup) {
				t.Errorf("%s %s: MarshalPKIXPublicKey error %v, want ErrNotInSubgroup", c.Name, name, err)
			}
		}
	}
}

// TestNewPublicKeyAcceptsSubgroup: keys in the subgroup, including the
// base point and its negation, still decode, on every curve.
func TestNewPublicKeyAcceptsSubgroup(t *testing.T) {
	for _, c := range allCurves {
		for range 4 {
			priv, err := GenerateKey(c, nil)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := NewPublicKey(c, priv.PublicKey.Bytes()); err != nil {
				t.Errorf("%s: genuine key refused: %v", c.Name, err)
			}
		}
		for _, p := range []refPoint{{c.X, c.Y}, {c.X, new(big.Int).Sub(c.P, c.Y)}} {
			if _, err := NewPublicKey(c, rawPoint(c, p)); err != nil {
				t.Errorf("%s: ±G refused: %v", c.Name, err)
			}
		}
	}
}

// TestVerifyRefusesSmallOrderForgeries forges signatures for the
// small-order keys as described above, and signatures by a genuine key
// checked against that key plus a small-order point, through PublicKey
// values built directly (not by NewPublicKey). Each try the old code
// accepted (m divides z2) is counted to show the test bites.
func TestVerifyRefusesSmallOrderForgeries(t *testing.T) {
	rng := mrand.New(mrand.NewPCG(1, 2))
	for _, c := range cofactor4Curves() {
		o2, o4 := smallOrderPoints(t, c)
		small := map[string]refPoint{"order 2": o2[0], "order 4": o4[0]}
		priv, err := GenerateKey(c, nil)
		if err != nil {
			t.Fatal(err)
		}
		for name, tp := range small {
			order := big.NewInt(2)
			if name == "order 4" {
				order = big.NewInt(4)
			}
			forgedKey := &PublicKey{Curve: c, X: tp.x, Y: tp.y}
			shifted := refAdd(c, refPoint{priv.X, priv.Y}, tp)
			shiftedKey := &PublicKey{Curve: c, X: shifted.x, Y: shifted.y}
			wouldPass := 0
			for range 32 {
				digest := make([]byte, c.Hash.Size())
				for i := range digest {
					digest[i] = byte(rng.Uint32())
				}
				e := digestToE(c, digest)
				k, err := cryptorand.Int(rngSource{rng}, c.Q)
				if err != nil {
					t.Fatal(err)
				}
				if k.Sign() == 0 {
					continue
				}
				r := new(big.Int).Mod(refMul(c, k, refPoint{c.X, c.Y}).x, c.Q)
				s := new(big.Int).Mul(k, e)
				s.Mod(s, c.Q)
				if r.Sign() == 0 || s.Sign() == 0 {
					continue
				}
				sig := make([]byte, 2*c.size)
				s.FillBytes(sig[:c.size])
				r.FillBytes(sig[c.size:])
				// z2 = -r/e mod q: the forgery holds iff order | z2.
				z2 := new(big.Int).ModInverse(e, c.Q)
				z2.Mul(z2, r).Neg(z2).Mod(z2, c.Q)
				if new(big.Int).Mod(z2, order).Sign() == 0 {
					wouldPass++
				}
				if forgedKey.Verify(digest, sig) {
					t.Errorf("%s: forged signature verifies under the %s key", c.Name, name)
				}
				genuineSig, err := priv.Sign(nil, digest, nil)
				if err != nil {
					t.Fatal(err)
				}
				if shiftedKey.Verify(digest, genuineSig) {
					t.Errorf("%s: a genuine signature verifies under genuine key + %s point", c.Name, name)
				}
			}
			if wouldPass == 0 {
				t.Fatalf("%s %s: no try had order | z2; the test proves nothing", c.Name, name)
			}
		}
	}
}

// TestValidatedKeyStillChecked: a key from NewPublicKey whose coordinates
// are then replaced by a small-order point is checked again, not trusted.
func TestValidatedKeyStillChecked(t *testing.T) {
	c := CurveTC26256A
	priv, err := GenerateKey(c, nil)
	if err != nil {
		t.Fatal(err)
	}
	digest := make([]byte, c.Hash.Size())
	digest[0] = 1
	sig, err := priv.Sign(nil, digest, nil)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := NewPublicKey(c, priv.PublicKey.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if !pub.Verify(digest, sig) {
		t.Fatal("genuine signature refused")
	}
	o2, _ := smallOrderPoints(t, c)
	shifted := refAdd(c, refPoint{priv.X, priv.Y}, o2[0])
	pub.X, pub.Y = shifted.x, shifted.y
	for range 8 {
		sig, err := priv.Sign(nil, digest, nil)
		if err != nil {
			t.Fatal(err)
		}
		if pub.Verify(digest, sig) {
			t.Fatal("a key changed after validation to genuine + order 2 verifies")
		}
	}
}

// rngSource is a seeded io.Reader, so that the tries are reproducible.
type rngSource struct{ r *mrand.Rand }

func (s rngSource) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = byte(s.r.Uint32())
	}
	return len(p), nil
}

// TestSubgroupCheckMatchesQP compares the exponentiation-based check with
// [q]P = O, computed both by the package's variable-time multiplication
// and by the math/big reference, on points of every coset of the
// subgroup (P, P + T, P ± T4 for subgroup points P) and on points of the
// curve found from random x.
func TestSubgroupCheckMatchesQP(t *testing.T) {
	rng := mrand.New(mrand.NewPCG(3, 4))
	for _, c := range cofactor4Curves() {
		o2, o4 := smallOrderPoints(t, c)
		shifts := map[string]refPoint{"O": {}, "T": o2[0], "T4": o4[0], "-T4": o4[1]}
		check := func(what string, p refPoint, want bool) {
			t.Helper()
			if p.isInf() {
				return
			}
			if got := refMul(c, c.Q, p).isInf(); got != want {
				t.Fatalf("%s %s: reference [q]P = O is %t, want %t", c.Name, what, got, want)
			}
			if got := c.ops.mulVar(c.Q, p.x, p.y).inf; got != want {
				t.Fatalf("%s %s: mulVar [q]P = O is %t, want %t", c.Name, what, got, want)
			}
			if got := c.ops.inSubgroup(p.x, p.y); got != want {
				t.Fatalf("%s %s: inSubgroup = %t, want %t", c.Name, what, got, want)
			}
		}
		for range 12 {
			priv, err := GenerateKey(c, nil)
			if err != nil {
				t.Fatal(err)
			}
			p := refPoint{priv.X, priv.Y}
			for name, sh := range shifts {
				check("P + "+name, refAdd(c, p, sh), name == "O")
			}
		}
		for name, sh := range shifts {
			check(name, sh, false)
		}
		found := 0
		for found < 24 {
			x, err := cryptorand.Int(rngSource{rng}, c.P)
			if err != nil {
				t.Fatal(err)
			}
			rhs := new(big.Int).Mul(x, x)
			rhs.Add(rhs, c.A).Mul(rhs, x).Add(rhs, c.B).Mod(rhs, c.P)
			y := new(big.Int).ModSqrt(rhs, c.P)
			if y == nil {
				continue
			}
			found++
			p := refPoint{x, y}
			want := refMul(c, c.Q, p).isInf()
			check("random point", p, want)
			// Its [4]-multiple is always in the subgroup.
			check("4·random point", refMul(c, big.NewInt(4), p), true)
		}
	}
}

// Package gost implements the Russian GOST cryptography gostkey needs: the
// Streebog hash (GOST R 34.11-2012, 256 and 512 bits) and GOST R 34.10-2012
// signatures on every TC26 and CryptoPro parameter set, with the keys, byte
// orders and encodings that OpenSSL's gost-engine uses.
//
// # Streebog
//
// New256 and New512 return hash.Hash values that also implement
// encoding.BinaryMarshaler, BinaryUnmarshaler and BinaryAppender (a saved
// state names its size, so a 256 state never loads into a 512 hash) and
// hash.Cloner; Sum256 and Sum512 hash in one call. Digests are in the byte
// order the hash outputs them, which is what `openssl dgst` prints (RFC
// 6986 prints its examples reversed). The LPS tables are generated at init
// from the standard's S-box and matrix; amd64 runs the compression function
// in assembly, and `-tags purego` selects the pure-Go code everywhere.
//
// # Signatures
//
// A Curve is a parameter set (CurveTC26256A … CurveTest512, Curves,
// CurveByOID). Keys are *PrivateKey (a crypto.Signer) and *PublicKey.
// Byte orders follow gost-engine:
//
//   - a digest is used as the hash outputs it, and e = LE(digest) mod q,
//     with e = 0 replaced by 1;
//   - a signature is s ‖ r, two big-endian halves of Curve.Size() bytes;
//   - a public key is X_le ‖ Y_le, a private key d little-endian.
//
// # Encodings
//
// MarshalPKIXPublicKey and ParsePKIXPublicKey handle SubjectPublicKeyInfo in
// the RFC 9215 form: digestParamSet is written only where the rules say
// MUST (the CryptoPro and 2001 test sets) and accepted present or absent on
// input. MarshalPKCS8PrivateKey writes PKCS#8 as gost-engine does (d
// little-endian in the privateKey OCTET STRING); ParsePKCS8PrivateKey also
// reads the other forms gost-engine reads, CryptoPro masked keys included.
// Parsers are strict DER and their errors wrap sentinels (ErrMalformedKey,
// ErrUnknownParamSet, …) without ever quoting key material.
//
// # Constant time
//
// Everything that touches a secret (the private scalar d, the nonce k and
// the point k·G before r is published) runs in time independent of the
// secret's value:
//
//   - No math/big: secrets live in fixed arrays of 64-bit limbs, and field
//     arithmetic mod p and mod q is Montgomery multiplication (for the
//     256-bit primes p = 2^256 - c with a small c, a plain product whose
//     high half folds in as c times it), squaring, addition and
//     subtraction over all limbs with carries, reduced by masks or CMOV,
//     never by branches: in Go with math/bits (field.go), and on amd64 in
//     straight-line assembly with MULX/ADCX/ADOX (field_amd64.s), whose
//     only branches are on the public limb count and modulus shape.
//     Inversion is Fermat's x^(p-2) along a chain fixed by the public
//     exponent (a run of ones by doubling, the rest by a sliding window),
//     the same for every x.
//   - k·G is a fixed-base comb over signed 5-bit digits, recoded without
//     branches: each window reads every entry of its precomputed table and
//     picks one with masks, negates it or not with a mask, and always
//     performs one point addition, whose result is kept or dropped with a
//     mask, so the memory accesses and the operation sequence are the same
//     for every k (point.go).
//   - All windows but the top one or two add in Jacobian coordinates with
//     the incomplete mixed formula (madd-2007-bl). Its exceptional cases
//     cannot occur there: the accumulator is Σ d_j·2^(5j) over the windows
//     so far, smaller in size than the entry added, and as long as
//     (2^4+1)·2^(5i) < q the two cannot be equal or opposite modulo q
//     either (baseMult spells out the argument; a test checks it
//     exhaustively on small moduli). The one remaining case, the
//     accumulator still being O while the digits so far are 0, is tracked
//     by a mask that selects the table entry instead of the sum.
//   - The top windows, where that bound reaches q, use the complete
//     formulas of Renes, Costello and Batina for any a, so there are no
//     data-dependent special cases (doubling, infinity) to branch on; on
//     the cofactor-4 curves every point involved lies in the odd-order
//     subgroup, where they are complete too.
//   - s = r·d + k·e mod q is computed with the same Montgomery code mod q
//     (scalar.go). Only r and s, which become the signature, are tested
//     for zero with a branch.
//   - Private keys are range-checked (0 < d < q) with a borrow chain, and
//     compared with crypto/subtle. Random scalars are drawn by rejection
//     sampling, whose running time reveals only discarded candidates.
//
// Verification handles only public values (key, digest, signature), so it
// uses faster variable-time code: Jacobian coordinates with explicit
// special cases (modified Jacobian doubling, for any a), the comb table for
// z1·G and a width-5 NAF for z2·Q, and it compares x with r without an
// inversion.
//
// `go run ./bench` (make bench) compares sign, verify and Streebog with
// OpenSSL's gost-engine on the machine at hand.
//
// The tests compare all of it with a math/big reference, reproduce the
// RFC 7091 examples, and cross-check keys and signatures with OpenSSL's
// gost-engine on every curve in both directions.
package gost

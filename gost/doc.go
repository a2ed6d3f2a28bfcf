// Package gost implements the Russian GOST cryptography gostkey needs: the
// Streebog hash (GOST R 34.11-2012, 256 and 512 bits) and GOST R 34.10-2012
// signatures on every TC26 and CryptoPro parameter set, with the keys, byte
// orders and encodings that OpenSSL's gost-engine uses.
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
package gost

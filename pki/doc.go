// Package pki builds, parses and verifies the X.509 objects of a GOST
// public-key infrastructure: certificates, PKCS #10 certification requests,
// CRLs and OCSP messages, for GOST R 34.10-2012 (256 and 512) keys and,
// through the same API, ECDSA and RSA keys.
//
// Go's crypto/x509 parses GOST objects only as unknown algorithms and
// cannot create them, so pki keeps its own algorithm table (algorithm.go)
// and encoders, and uses crypto/x509 for the parts it does well: the
// structure of certificates and requests, the standard extensions, and
// ECDSA and RSA keys.
//
// # Signing
//
// Every signature is made through a crypto.Signer (a PKCS #11 token key, or
// a *gost.PrivateKey in tests) and checked against the signer's public key
// before the signed object is returned. GOST signers receive a digest in
// the order Streebog outputs it and a *gost.SignerOpts naming the hash.
// GOST signature AlgorithmIdentifiers are written without parameters and
// read with parameters absent or NULL (OpenSSL writes NULL).
//
// # Names
//
// Name has typed fields for the Russian qualified-certificate attributes
// (SNILS, INN, OGRN, OGRNIP, INNLE, written as NumericString) beside the
// usual ones (Russian text is written as UTF8String). The raw DER of parsed
// names is kept, so an issuer name can be copied byte for byte.
//
// Key identifiers (subject and authority) are the SHA-1 of the
// subjectPublicKey bits, as OpenSSL computes them (see KeyID).
package pki

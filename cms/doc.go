// Package cms builds and verifies CMS SignedData (RFC 5652) in the
// CAdES-BES profile (RFC 5126, ETSI TS 101 733) for GOST R 34.10-2012 keys
// (256 and 512 bits) and, through the same API, ECDSA and RSA keys.
//
// # Signing
//
//	sig, err := cms.Sign(file, key, cert, &cms.SignOptions{Detached: true, PEM: true})
//
// key is any crypto.Signer (a PKCS#11 token key, a gost.PrivateKey in
// tests) whose public key is cert's; signing goes through pki.SignDigest,
// which checks each signature before it is used. Sign writes the signed
// attributes contentType (id-data), signingTime, messageDigest and
// signingCertificateV2, embeds the signer certificate (and
// SignOptions.ExtraCerts) and identifies the signer by issuer and serial
// number. SignMulti signs with several co-signers at once; AddSigner adds a
// signer to an existing SignedData, re-emitting the existing SignerInfos
// byte for byte (only the SET OF order may change, as DER sorts sets), and
// refuses content the existing signers' messageDigest does not match.
//
// Identifiers follow what OpenSSL's gost-engine writes (fact sheet §4):
// digestAlgorithm Streebog-256/512 with NULL parameters, signatureAlgorithm
// the GOST public-key OID with NULL parameters, the signature s‖r in an
// OCTET STRING. The ESSCertIDv2 hash is the signer's digest algorithm
// (Streebog-256 or -512 for GOST keys, as OpenSSL does), written explicitly
// unless it is SHA-256, the DEFAULT that DER omits; certHash is in the
// order the hash outputs it.
//
// # Verifying
//
//	res, err := cms.Verify(sig, content, &cms.VerifyOptions{Roots: roots})
//
// content is the document of a detached signature, nil for an attached one.
// For each SignerInfo Verify finds the signer certificate (embedded or in
// VerifyOptions.Intermediates), takes the algorithm from the certificate key
// and digestAlgorithm (any signatureAlgorithm of the key's family is
// accepted: the GOST key OID, the sign-with-digest OID, the GOST 2001 key
// OID), applies the signed-attribute rules of OpenSSL (contentType and
// messageDigest exactly once and single-valued, signingTime and the ESS
// attributes at most once), checks the signature over DER(SET OF
// signedAttrs) (or over the content digest when there are no signed
// attributes), matches signingCertificateV2 (and the SHA-1
// signingCertificate) against the certificate, compares messageDigest with
// the content, checks that the certificate is fit for
// VerifyOptions.Purpose (by default document signing: keyUsage
// digitalSignature or nonRepudiation, and an extKeyUsage, where the
// certificate or an issuer has one, allowing emailProtection, any usage or
// a document-signing usage; WrongPurpose otherwise), and
// verifies the chain to VerifyOptions.Roots now, or at
// VerifyOptions.CurrentTime, a time the caller asserts; the signer's own
// signingTime is reported (SignerResult.SigningTime) but never trusted,
// since the holder of an expired or revoked certificate's key can backdate
// it. The signer certificate's privateKeyUsagePeriod, when it has one,
// must hold at that time too. SignerResult.CheckedAt and TimeBasis say
// which time was used. With
// VerifyOptions.CRLs or OCSP it then checks every certificate of the chain
// but the root for revocation (pki.CRL.CheckCertificate, pki.QueryOCSP);
// VerifyContext bounds OCSP queries with a context. Each failure is a
// *SignerError whose Reason a caller can branch on; the error Verify
// returns joins them, and errors.Is(err, ErrMalformed) tells unreadable
// input from an invalid signature.
//
// # Streaming
//
// The content is read exactly once, in constant memory, for detached
// signing and for verification: all digests the signers need are computed
// in one pass through an io.MultiWriter. Sign, SignMulti and Verify hold
// an attached signature's content in memory, since it is part of the
// output (and of the input when verifying); SignStream and VerifyStream
// do not:
//
//	err := cms.SignStream(out, file, size, []cms.Signer{{Key: key, Certificate: cert}}, nil)
//	res, err := cms.VerifyStream(ctx, sigFile, nil, contentOut, &cms.VerifyOptions{Roots: roots})
//
// SignStream writes DER identical to SignMulti's when the content size is
// known, indefinite-length BER (as `openssl cms -sign -stream`) when it is
// not; VerifyStream reads either, PEM too, hashing the embedded content
// while it copies it out.
//
// # Input forms
//
// Parse, Verify and AddSigner accept DER, BER (indefinite lengths and
// constructed OCTET STRINGs, as `openssl cms -stream` writes; normalized to
// DER) and PEM ("CMS", "PKCS7", "PKCS #7 SIGNED DATA"). Output is DER, or
// PEM "CMS" with SignOptions.PEM.
package cms

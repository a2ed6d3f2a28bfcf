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
// # Certificates
//
// CreateCertificate builds X.509 v3 certificates from a *Certificate
// template (as crypto/x509 does); ParseCertificate and ParseCertificates
// read them into the same type, with the standard and the Russian
// qualified-profile extensions (subjectSignTool, issuerSignTool,
// certificatePolicies КС1…КА1, privateKeyUsagePeriod) as typed fields.
// Critical extensions pki does not know are listed in
// UnhandledCriticalExtensions, and Verify refuses them.
//
// CreateCertificateRequest and ParseCertificateRequest do the same for
// PKCS #10 requests, whose requested extensions (the extensionRequest
// attribute) come out as typed fields; CheckSignature proves possession of
// the key.
//
// # Names and the qualified profile
//
// Name has typed fields for the Russian qualified-certificate attributes
// (SNILS, INN, OGRN, OGRNIP, INNLE, written as NumericString) beside the
// usual ones (Russian text is written as UTF8String). The raw DER of parsed
// names is kept and an issuer name is copied byte for byte. ParseName reads
// the RFC 4514 form String writes and OpenSSL's "/C=RU/CN=…" form. The
// checksums of SNILS, INN, OGRN and OGRNIP are checked by ValidateSNILS and
// friends and by Name.ValidateQualified, and CheckQualifiedProfile lints a
// whole certificate or template; failures are *QualifiedFieldError, which
// names the field but never echoes the value.
//
// Describe (and the Describe methods) print certificates, requests, CRLs
// and OCSP messages for people, with the qualified fields named in Russian
// and English; ParseObjects reads whichever certificates, requests or CRLs
// a PEM or DER file holds.
//
// Key identifiers (subject and authority) are the SHA-1 of the
// subjectPublicKey bits, as OpenSSL computes them (see KeyID).
//
// # Verification
//
// Certificate.Verify builds a chain to one of the given roots and checks
// signatures, validity periods, basic constraints and path length, key
// usage, extended key usage along the chain and unknown critical
// extensions. The search is bounded (signature checks, candidates per
// step, no state explored twice) and VerifyContext stops on cancellation. Failures are
// *CertificateInvalidError, whose Reason says which check failed and whose
// Cert is the certificate that failed it. Verify does not look at
// revocation: that is the CRL and OCSP API's job, below.
//
// # Revocation: CRLs and OCSP
//
// CreateCRL signs RFC 5280 CRLs (complete and delta) for an issuer
// certificate; ParseCRL reads them, refusing critical extensions it does
// not know, and (*CRL).CheckCertificate decides one certificate's status,
// returning a *RevokedError for a listed one. The same CRLReason values
// serve CRL entries and OCSP answers.
//
// For OCSP (RFC 6960), CreateOCSPRequest and ParseOCSPRequest handle
// requests with SHA-1, SHA-2 or Streebog CertIDs; CreateOCSPResponse signs
// responses as the CA or as a delegated responder; ParseOCSPResponse with
// an issuer verifies who signed before returning anything;
// (*OCSPResponse).CheckCertificateAt gives the verdict of a response that
// is current (thisUpdate not in the future, nextUpdate not passed, and
// without nextUpdate either our nonce echoed or a bounded age). QueryOCSP
// is the HTTP client, sending a nonce and refusing another one back;
// ReadOCSPHTTPRequest is the responder's reader of POST and GET requests.
//
// The full signatures are listed in the "API in brief" comments at the top
// of crl.go and ocsp.go.
package pki

// Package ca is the authority's use cases, one small type each, with their
// dependencies passed in: Registrar (applicants, orders, one-time activation
// codes), Issuer (prepare, lint, audit, sign, record), Enrollment (redeem a
// code for a certificate), Renewal (a CMS-signed request inside the renewal
// window), Revocation (registrar, holder and lost-token revocation, holds)
// and Operators (operators, API tokens, authentication). CRL and OCSP
// publication live in ca/publish; the HTTP layer in ca/api.
//
// Nothing here sees a PKCS#11 context: the issuing CA key is a
// crypto.Signer (the main wires a token key), and every clock is a func so
// that tests move time instead of sleeping.
//
// Errors meant for callers are *Error: a Kind the HTTP layer maps to a
// status, a stable snake_case Code, a message safe to show, and the JSON
// field at fault. Anything else is an internal failure.
package ca

// Package pkcs11 is gostkey's token layer: it opens PKCS#11 modules
// (hardware tokens, HSMs, SoftHSM2 and gostkey's own softtoken), finds
// tokens and keys, runs the PIN life cycle, generates GOST R 34.10-2012
// and ECDSA keys on tokens, stores certificates beside them, and offers
// token keys as crypto.Signer. It is built on github.com/miekg/pkcs11.
//
// # Use
//
// A command line program does, in order:
//
//	ms, err := pkcs11.OpenAll(modulePaths, pkcs11.Options{})  // --module, repeatable
//	defer ms.Close()
//	tok, err := ms.FindToken("my token")                      // label or pkcs11: URI
//	err = tok.Login(ctx, pkcs11.PINFile(path))                // or a terminal prompt
//	key, err := tok.GenerateKey(ctx, pkcs11.KeySpec{Label: "k", Curve: gost.CurveTC26256A})
//	keys, err := tok.Keys(ctx)                                // with key.Certificate()
//	key, err = tok.FindKey(ctx, "k")                          // label or pkcs11: URI
//	err = tok.ImportCertificate(ctx, key, der)
//	sig, err := key.Sign(nil, streebogDigest, nil)            // crypto.Signer
//
// Token administration: Module.InitToken (first uninitialized token) or
// Token.InitToken (re-initialize), Token.SetPIN (change the user PIN),
// Token.InitPIN (the SO sets or unblocks the user PIN), Token.Logout.
// Discovery: Module.Slots, Module.Tokens, Token.Info and Token.Refresh
// (label, serial, model, manufacturer, flags, PIN state), Token.Mechanisms,
// Module.Watch and Modules.Watch (insert and remove events).
//
// # PINs
//
// PINs come from a PINPrompt callback, asked when a login is needed with
// the token and its PIN state, or from a file (PINFile, ReadPINFile: the
// first line). A PIN file that cannot be read is an error and never a
// login attempt: a login with an empty PIN would burn a retry on a real
// card. The PIN type prints as a mask with every fmt verb, and the
// functions that take a PIN zero it before returning. A module receives
// the PIN's own bytes (C_Login, C_InitToken, C_InitPIN and C_SetPIN are
// called directly rather than through miekg/pkcs11, whose C copies of a
// PIN are freed without being wiped), so no other copy outlives the call
// on the Go side. Login tries once;
// a wrong PIN is a *PINError holding the PIN state after the attempt
// (few tries left, final try, locked), and a locked PIN is reported
// without asking for it. The prompt of a successful Login is remembered
// by the token for logins the package needs later (after a re-insertion,
// or before each signature with a CKA_ALWAYS_AUTHENTICATE key); a
// remembered prompt whose PIN is refused is forgotten, so that a stale
// PIN file costs one retry and then ErrLoginRequired, not one retry per
// operation.
//
// # Errors
//
// Errors match, with errors.Is: ErrPINIncorrect, ErrPINLocked (also a
// wrong PIN that used up the last try), ErrPINInvalid (a new PIN the
// token refuses), ErrNoPIN, ErrTokenNotPresent,
// ErrTokenRemoved (the token went away during the operation:
// CKR_DEVICE_REMOVED, CKR_TOKEN_NOT_PRESENT, or a session handle that died
// with the token; it also matches ErrTokenNotPresent),
// ErrMechanismUnsupported, ErrLoginRequired, ErrNotFound, ErrAmbiguous,
// ErrInvalidSignature and ErrClosed. With errors.As: *PINError,
// *MechanismError and *CallError (the PKCS#11 function and CKR_ code).
// No error message contains a PIN.
//
// # GOST signatures
//
// GOST keys are TC26 keys (tc26.go holds the vendor constants): CKK_GOSTR3410
// or CKK_GOSTR3410_512 with CKA_GOSTR3410_PARAMS (the curve OID, DER) and
// CKA_GOSTR3411_PARAMS (the Streebog OID, DER); the public CKA_VALUE is
// X_le ‖ Y_le. The document is hashed on the host; C_Sign with
// CKM_GOSTR3410 or CKM_GOSTR3410_512 signs the digest and returns s ‖ r.
// Modules disagree on the byte order of that digest: by default it is
// sent as the hash outputs it (SoftHSM2, Rutoken, the softtoken);
// Options.GOSTDigestOrder = DigestReversed sends it reversed (OpenSC).
// Every signature is verified with the key's public key before it is
// returned, so a wrong setting gives ErrInvalidSignature, never a bad
// signature; Key says so (VerifiesSignatures, pki.VerifyingSigner), and
// pki.SignDigest then does not verify it a second time. ECDSA signatures (CKM_ECDSA, r ‖ s) are returned as ASN.1
// DER, as crypto.Signer callers expect.
//
// # Sessions and concurrency
//
// Modules, tokens and keys are safe for concurrent use. A PKCS#11 library
// is process-wide state, so Open on a file already open shares the loaded
// library (reference-counted; the last Close finalizes and unloads it).
// Each Token has a pool of read-write sessions (Options.MaxSessions, 4 by
// default): every operation borrows one for its duration and gives it
// back, so operations on one token run in parallel up to that limit and
// then wait, bounded by their context. Idle sessions stay open because
// PKCS#11 keeps a login only while a session is open; a login is shared by
// all sessions of the token (it belongs to the application, not to a
// session), and logins on a token are serialized so that concurrent
// signers prompt once. Private key handles are cached per token, so a
// signature is C_SignInit and C_Sign without a search; the cache is
// dropped when the pool drops its sessions, on login and logout, when
// objects are created or destroyed through the Token, and for a handle
// the module calls invalid or whose signature fails its check (objects
// changed by another process), so a re-inserted token works again: when
// a call fails because the token went away, the pool drops its sessions,
// and a session that went stale while idle is replaced and the operation
// retried once if the same token is back. A slot whose token was swapped for another (another
// serial number) gets a new *Token; the old one reports ErrTokenNotPresent.
//
// Watch rescans the slots every Options.PollInterval and, on modules
// whose C_WaitForSlotEvent works, also when the module reports an event.
// The event wait runs on its own thread per library, since a blocked
// C_WaitForSlotEvent cannot be interrupted except by C_Finalize.
//
// # Why not crypto11
//
// github.com/ThalesGroup/crypto11 is not used, not even for ECDSA. Its
// Context owns the module: Configure loads the library and calls
// C_Initialize (failing when the library is already initialized), and
// Close calls C_Finalize and unloads it, so it cannot share a library with
// this package's GOST code or with a second token, and a login belongs to
// the application, not to one Context. It takes the user PIN as a string
// in its Config and logs in at once (no PIN callback, no PIN state, no
// PIN file rule), binds one token per Context, writes to the standard
// logger, and has no slot events. The ECDSA path it would replace is a
// few lines here.
package pkcs11

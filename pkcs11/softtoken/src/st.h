/*
 * Internal interfaces of the gostkey software token (libgostkey-softtoken.so).
 * Layout: util.c (attribute lists, files, config), gost.c (OpenSSL and the
 * gost engine), store.c (token directories on disk), p11.c (the PKCS#11 API).
 */
#ifndef GOSTKEY_ST_H
#define GOSTKEY_ST_H

#include <stddef.h>
#include <stdint.h>

/* The C_* entry points are the module's interface: declared with default
 * visibility, while everything else stays hidden (-fvisibility=hidden). */
#pragma GCC visibility push(default)
#include <p11-kit/pkcs11.h>
#pragma GCC visibility pop
#include <openssl/evp.h>

#include "tc26.h"

/* ---- attribute lists (util.c) ---- */

typedef struct {
	CK_ATTRIBUTE_TYPE type;
	CK_ULONG len;
	unsigned char *val;
} attr_t;

typedef struct {
	attr_t *a;
	size_t n;
} attrs_t;

attr_t *attrs_find(const attrs_t *as, CK_ATTRIBUTE_TYPE type);
int attrs_set(attrs_t *as, CK_ATTRIBUTE_TYPE type, const void *val, CK_ULONG len);
int attrs_set_ulong(attrs_t *as, CK_ATTRIBUTE_TYPE type, CK_ULONG v);
int attrs_set_bool(attrs_t *as, CK_ATTRIBUTE_TYPE type, CK_BBOOL v);
void attrs_del(attrs_t *as, CK_ATTRIBUTE_TYPE type);
/* attrs_ulong/attrs_bool return def when the attribute is absent or malformed. */
CK_ULONG attrs_ulong(const attrs_t *as, CK_ATTRIBUTE_TYPE type, CK_ULONG def);
CK_BBOOL attrs_bool(const attrs_t *as, CK_ATTRIBUTE_TYPE type, CK_BBOOL def);
void attrs_free(attrs_t *as);
int attrs_copy(attrs_t *dst, const attrs_t *src);
/* Serialization: u32 count, then per attribute u64 type, u32 length, bytes
 * (big-endian integers; CK_ULONG-valued attributes keep their native bytes). */
int attrs_encode(const attrs_t *as, unsigned char **out, size_t *outlen);
int attrs_decode(const unsigned char *in, size_t inlen, attrs_t *as);

/* ---- helpers (util.c) ---- */

void hex_encode(const unsigned char *in, size_t n, char *out);
int hex_decode(const char *in, unsigned char *out, size_t max, size_t *n);
/* write_atomic writes path through a temporary file, fsync and rename, then
 * fsyncs the directory, so a crash leaves either the old or the new file. */
int write_atomic(const char *path, const void *data, size_t len);
/* sync_dir_of fsyncs the directory holding path (after a rename or an
 * unlink in it). */
void sync_dir_of(const char *path);
int read_file(const char *path, unsigned char **data, size_t *len);
char *path_join(const char *dir, const char *name);
void secure_zero(void *p, size_t n);

/* A PIN key derivation: its algorithm and parameters, stored beside each
 * wrapped copy of the master key so that the parameters can change later.
 * PBKDF2-HMAC-SHA256 (tokens before scrypt) is only read, and re-wrapped
 * with scrypt at the next successful login. */
enum { KDF_PBKDF2_SHA256 = 1, KDF_SCRYPT = 2 };

typedef struct {
	int alg;
	unsigned iterations;  /* PBKDF2 */
	unsigned log2n, r, p; /* scrypt: N = 2^log2n */
} kdf_t;

/* kdf_valid bounds what a token file or the config may ask for (scrypt
 * memory 128·r·N at most 1 GiB). */
int kdf_valid(const kdf_t *k);
/* kdf_weaker tells whether a stored derivation costs less than the
 * configured one (PBKDF2 always does), so that the login re-wraps it. */
int kdf_weaker(const kdf_t *stored, const kdf_t *want);

typedef struct {
	char *dir;            /* token directories live below it */
	unsigned retries;     /* PIN attempts before lockout, for new tokens */
	kdf_t kdf;            /* scrypt parameters for every PIN wrapped from now on */
	unsigned min_pin, max_pin;
	unsigned poll_ms;     /* C_WaitForSlotEvent polling interval */
} config_t;

int config_load(config_t *cfg);
void config_free(config_t *cfg);

/* ---- GOST and other crypto (gost.c) ---- */

typedef struct {
	unsigned char der[12];/* OID, DER with tag and length */
	size_t der_len;
	const char *engine_name; /* paramset name the gost engine accepts */
	int bits;             /* 256 or 512 */
} paramset_t;

const paramset_t *paramset_by_der(const unsigned char *der, size_t len);
extern const unsigned char OID_STREEBOG256[10], OID_STREEBOG512[10];

int gost_init(void);
/* gost_keygen makes a key pair: d little-endian (bits/8 bytes) and the raw
 * public key X_le‖Y_le (bits/4 bytes). */
int gost_keygen(const paramset_t *ps, unsigned char *d, unsigned char *pub);
EVP_PKEY *gost_private_key(const paramset_t *ps, const unsigned char *d, size_t dlen);
EVP_PKEY *gost_public_key(const paramset_t *ps, const unsigned char *pub, size_t publen);
/* gost_sign signs a digest (as the hash outputs it, e = LE(digest)) and writes
 * s‖r into sig (2*size bytes). */
int gost_sign(EVP_PKEY *key, const unsigned char *dgst, size_t dlen, unsigned char *sig, size_t *siglen);
int gost_verify(EVP_PKEY *key, const unsigned char *dgst, size_t dlen, const unsigned char *sig, size_t siglen);
EVP_MD_CTX *gost_digest_new(int bits);

/* ECDSA on the NIST curves (ec.c). */
typedef struct {
	const char *name;      /* OpenSSL group name */
	int nid;
	unsigned char der[12]; /* OID, DER with tag and length */
	size_t der_len;
	size_t size;           /* bytes per coordinate, scalar, signature half */
} eccurve_t;

const eccurve_t *eccurve_by_der(const unsigned char *der, size_t len);
/* ec_keygen writes d big-endian (size bytes) and the point 04‖X‖Y. */
int ec_keygen(const eccurve_t *c, unsigned char *d, unsigned char *pt);
EVP_PKEY *ec_private_key(const eccurve_t *c, const unsigned char *d, size_t dlen);
EVP_PKEY *ec_public_key(const eccurve_t *c, const unsigned char *pt, size_t ptlen);
/* ec_sign and ec_verify use the PKCS#11 signature form r‖s (2*size bytes). */
int ec_sign(EVP_PKEY *key, size_t size, const unsigned char *h, size_t hlen, unsigned char *sig);
int ec_verify(EVP_PKEY *key, size_t size, const unsigned char *h, size_t hlen, const unsigned char *sig);
EVP_MD_CTX *sha_new(int bits);

/* PIN-derived wrapping of the token master key (scrypt, or PBKDF2 for old
 * tokens; AES-256-GCM). A wrapped key is nonce(12) ‖ ciphertext(32) ‖ tag(16). */
#define MK_LEN 32
#define SALT_LEN 16
#define WRAP_LEN (12 + MK_LEN + 16)
int kek_derive(const unsigned char *pin, size_t pinlen, const unsigned char *salt, const kdf_t *kdf, unsigned char kek[32]);
int aead_seal(const unsigned char key[32], const unsigned char *aad, size_t aadlen, const unsigned char *pt, size_t ptlen, unsigned char *out);
int aead_open(const unsigned char key[32], const unsigned char *aad, size_t aadlen, const unsigned char *in, size_t inlen, unsigned char *pt);
#define AEAD_OVERHEAD 28
int random_bytes(unsigned char *p, size_t n);
void random_seed(const unsigned char *p, size_t n);

/* ---- token directories (store.c) ---- */

typedef struct {
	int initialized;
	char label[33];
	char serial[17];
	unsigned max_retries;
	unsigned user_fail, so_fail;
	kdf_t so_kdf;
	unsigned char so_salt[SALT_LEN], so_wrap[WRAP_LEN];
	int has_user;
	kdf_t user_kdf;
	unsigned char user_salt[SALT_LEN], user_wrap[WRAP_LEN];
} tstate_t;

int store_lock(const char *dir);           /* returns an fd, or -1 */
/* store_login_lock serializes logins (the whole PIN check, KDF included),
 * held without the .lock so that other work on the token goes on. */
int store_login_lock(const char *dir);
void store_unlock(int fd);
int store_read_state(const char *dir, tstate_t *st);    /* absent file: initialized = 0 */
int store_write_state(const char *dir, const tstate_t *st);
int store_present(const char *dir);
/* store_secure makes a token directory and what is in it private (0700
 * directories, 0600 files) where they are open to group or others and owned
 * by this user, and fails (-1) on such an entry owned by someone else.
 * store_secure_root does the same for the base directory, except that
 * someone else's is refused only when group or others may write to it. */
int store_secure(const char *dir);
int store_secure_root(const char *dir);

/* A stored object: clear attributes and an optional AES-GCM sealed blob of
 * the attributes that need the master key (all attributes of private
 * objects; CKA_VALUE of private keys). */
int store_write_object(const char *dir, const char *fid, const attrs_t *clear, const unsigned char *enc, size_t enclen);
int store_read_object(const char *dir, const char *fid, attrs_t *clear, unsigned char **enc, size_t *enclen);
int store_delete_object(const char *dir, const char *fid);
/* store_delete_all_objects wipes the objects under a journal. */
int store_delete_all_objects(const char *dir);
/* A stored object file's identity: any rewrite (always a new file renamed
 * into place) changes it, so another process's changes are noticed. */
typedef struct {
	unsigned long long ino, size;
	long long sec;
	long nsec;
} fstamp_t;

typedef struct {
	char fid[17];
	fstamp_t stamp;
} objent_t;

/* Objects created or deleted together (a key pair, a wipe):
 * store_journal_begin records their file ids (fids[0] names the journal)
 * before the first is written or removed, store_journal_end removes the
 * record after the last. The caller holds the token lock throughout. */
int store_journal_begin(const char *dir, const char (*fids)[17], size_t n);
int store_journal_end(const char *dir, const char *fid);
/* store_recover, under the token lock, undoes what a killed writer left:
 * temporary files, and the objects of an unfinished journal. */
void store_recover(const char *dir);

/* store_list_objects returns a malloc'd array of the token's object files. */
int store_list_objects(const char *dir, objent_t **ents, size_t *n);
int store_object_stamp(const char *dir, const char *fid, fstamp_t *stamp);

#endif

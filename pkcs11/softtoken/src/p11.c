/*
 * The PKCS#11 v2.40 interface of the gostkey software token.
 *
 * Concurrency: one process-wide mutex serializes every call (the library
 * answers CKF_OS_LOCKING_OK by always using its own pthread locks); token
 * files are additionally serialized between processes with flock(2).
 * C_WaitForSlotEvent drops the mutex while it sleeps, and C_Login while it
 * waits for its turn to log in to a token and while it derives the PIN's
 * key (scrypt, ~200 ms). The token's .lock flock is only ever taken and
 * released with the mutex held, and C_Login's .login flock only awaited
 * without it, so no thread waits for a flock whose holder waits for the
 * mutex. C_InitToken, C_InitPIN and C_SetPIN still run their KDFs locked
 * (rare administrative calls).
 */
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "st.h"

#define MANUFACTURER "gostkey"
#define MODEL "softtoken"
#define NO_USER ((CK_USER_TYPE)-1)

typedef struct object {
	struct object *next;
	CK_OBJECT_HANDLE h;
	int token;
	CK_SESSION_HANDLE owner;
	char fid[17];
	attrs_t attrs;
	/* secret_loaded is 0 while the sealed part (enc) of a public object
	 * has not been opened: its secret attributes are then absent. */
	int secret_loaded;
	unsigned char *enc;
	size_t enclen;
	/* pk caches the key's OpenSSL form (built on first use): rebuilding a
	 * private key costs a scalar multiplication per signature. */
	EVP_PKEY *pk;
	fstamp_t stamp; /* of the file this token object was read from or written to */
} object_t;

typedef struct slot {
	CK_SLOT_ID id;
	char *dir; /* NULL: the spare slot whose token C_InitToken creates */
	int reported;
	CK_USER_TYPE login;
	unsigned char mk[MK_LEN];
	int mk_ok;
	object_t *objs;
	/* Handles given to token objects, by file id, so that an object keeps
	 * its handle when it is unloaded (logout, removal) and loaded again. */
	struct handle_memo {
		char fid[17];
		CK_OBJECT_HANDLE h;
	} *memo;
	size_t nmemo;
} slot_t;

typedef struct {
	int active;
	CK_KEY_TYPE kt;
	int bits;    /* digests: output bits */
	size_t size; /* signatures: bytes per half of the signature */
	EVP_PKEY *key;
	EVP_MD_CTX *md;
	int updated;
} op_t;

typedef struct session {
	struct session *next;
	CK_SESSION_HANDLE h;
	slot_t *slot;
	CK_FLAGS flags;
	int removed;
	op_t sign, verify, digest;
	int finding;
	CK_OBJECT_HANDLE *found;
	size_t nfound, pos;
} session_t;

static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t g_cond = PTHREAD_COND_INITIALIZER;
static int g_inited;
static int g_waiters;
static config_t g_cfg;
static slot_t **g_slots;
static size_t g_nslots;
static session_t *g_sessions;
static CK_ULONG g_next_handle = 1;

static CK_FUNCTION_LIST g_functions;

/* ---------- helpers ---------- */

static void pad(unsigned char *dst, size_t n, const char *src)
{
	memset(dst, ' ', n);
	size_t l = strlen(src);
	memcpy(dst, src, l < n ? l : n);
}

static void op_end(op_t *op)
{
	EVP_PKEY_free(op->key);
	EVP_MD_CTX_free(op->md);
	memset(op, 0, sizeof(*op));
}

static void find_end(session_t *s)
{
	free(s->found);
	s->found = NULL;
	s->nfound = s->pos = 0;
	s->finding = 0;
}

static void obj_free(object_t *o)
{
	attrs_free(&o->attrs);
	free(o->enc);
	EVP_PKEY_free(o->pk);
	free(o);
}

static int slot_present(slot_t *sl)
{
	return sl->dir == NULL || store_present(sl->dir);
}

static slot_t *slot_by_id(CK_SLOT_ID id)
{
	return id < g_nslots ? g_slots[id] : NULL;
}

static slot_t *slot_add(char *dir)
{
	slot_t **ns = realloc(g_slots, (g_nslots + 1) * sizeof(*ns));
	if (ns == NULL)
		return NULL;
	g_slots = ns;
	slot_t *sl = calloc(1, sizeof(*sl));
	if (sl == NULL)
		return NULL;
	sl->id = g_nslots;
	sl->dir = dir;
	sl->login = NO_USER;
	sl->reported = slot_present(sl);
	g_slots[g_nslots++] = sl;
	return sl;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* refresh_slots gives every token directory found below the base directory
 * a slot (slot ids are stable for the life of the process) and keeps one
 * spare slot for C_InitToken. It returns the number of new directories. */
static int refresh_slots(void)
{
	int added = 0;
	DIR *d = opendir(g_cfg.dir);
	if (d != NULL) {
		char **names = NULL;
		size_t n = 0;
		struct dirent *de;
		while ((de = readdir(d)) != NULL) {
			if (de->d_name[0] == '.')
				continue;
			char *p = path_join(g_cfg.dir, de->d_name);
			struct stat sb;
			if (p == NULL || stat(p, &sb) != 0 || !S_ISDIR(sb.st_mode)) {
				free(p);
				continue;
			}
			int known = 0;
			for (size_t i = 0; i < g_nslots && !known; i++)
				known = g_slots[i]->dir != NULL && strcmp(g_slots[i]->dir, p) == 0;
			char **nn = known ? NULL : realloc(names, (n + 1) * sizeof(*nn));
			if (nn == NULL) {
				free(p);
				continue;
			}
			names = nn;
			names[n++] = p;
		}
		closedir(d);
		if (n > 0)
			qsort(names, n, sizeof(*names), cmp_str);
		for (size_t i = 0; i < n; i++) {
			if (slot_add(names[i]) == NULL)
				free(names[i]);
			else
				added++;
		}
		free(names);
	}
	int spare = 0;
	for (size_t i = 0; i < g_nslots; i++)
		spare |= g_slots[i]->dir == NULL;
	if (!spare)
		slot_add(NULL);
	return added;
}

static session_t *session_find(CK_SESSION_HANDLE h)
{
	for (session_t *s = g_sessions; s != NULL; s = s->next)
		if (s->h == h)
			return s;
	return NULL;
}

static int slot_sessions(slot_t *sl, int ro_only)
{
	int n = 0;
	for (session_t *s = g_sessions; s != NULL; s = s->next)
		if (s->slot == sl && (!ro_only || !(s->flags & CKF_RW_SESSION)))
			n++;
	return n;
}

static void objs_remove_if(slot_t *sl, int (*pred)(object_t *, void *), void *arg)
{
	object_t **pp = &sl->objs;
	while (*pp != NULL) {
		object_t *o = *pp;
		if (pred(o, arg)) {
			*pp = o->next;
			obj_free(o);
		} else
			pp = &o->next;
	}
}

static int pred_private_or_session_secret(object_t *o, void *arg)
{
	(void)arg;
	if (attrs_bool(&o->attrs, CKA_PRIVATE, CK_FALSE))
		return 1;
	CK_ULONG cls = attrs_ulong(&o->attrs, CKA_CLASS, CKO_DATA);
	return !o->token && (cls == CKO_PRIVATE_KEY || cls == CKO_SECRET_KEY);
}

static int pred_all(object_t *o, void *arg)
{
	(void)o;
	(void)arg;
	return 1;
}

static int pred_owner(object_t *o, void *arg)
{
	return !o->token && o->owner == *(CK_SESSION_HANDLE *)arg;
}

static int is_secret(CK_ULONG cls, CK_ATTRIBUTE_TYPE type)
{
	return (cls == CKO_PRIVATE_KEY || cls == CKO_SECRET_KEY) && type == CKA_VALUE;
}

/* slot_logout forgets the master key and every secret it opened. */
static void slot_logout(slot_t *sl)
{
	secure_zero(sl->mk, sizeof(sl->mk));
	sl->mk_ok = 0;
	sl->login = NO_USER;
	objs_remove_if(sl, pred_private_or_session_secret, NULL);
	for (object_t *o = sl->objs; o != NULL; o = o->next) {
		if (o->token && o->enclen > 0 && o->secret_loaded) {
			attrs_del(&o->attrs, CKA_VALUE);
			EVP_PKEY_free(o->pk);
			o->pk = NULL;
			o->secret_loaded = 0;
		}
	}
}

static void session_free(session_t *s)
{
	op_end(&s->sign);
	op_end(&s->verify);
	op_end(&s->digest);
	find_end(s);
	free(s);
}

static void session_close(session_t *s)
{
	session_t **pp = &g_sessions;
	while (*pp != s)
		pp = &(*pp)->next;
	*pp = s->next;
	slot_t *sl = s->slot;
	objs_remove_if(sl, pred_owner, &s->h);
	session_free(s);
	if (slot_sessions(sl, 0) == 0)
		slot_logout(sl);
}

/* token_pulled ends what a removed token ends on a real reader: its
 * sessions stay as handles that answer CKR_DEVICE_REMOVED until closed, the
 * login is gone, objects are forgotten (reloaded on the next session). */
static void token_pulled(slot_t *sl)
{
	for (session_t *s = g_sessions; s != NULL; s = s->next) {
		if (s->slot != sl || s->removed)
			continue;
		s->removed = 1;
		op_end(&s->sign);
		op_end(&s->verify);
		op_end(&s->digest);
		find_end(s);
	}
	slot_logout(sl);
	objs_remove_if(sl, pred_all, NULL);
}

static CK_RV get_session(CK_SESSION_HANDLE h, session_t **out)
{
	if (!g_inited)
		return CKR_CRYPTOKI_NOT_INITIALIZED;
	session_t *s = session_find(h);
	if (s == NULL)
		return CKR_SESSION_HANDLE_INVALID;
	if (s->removed)
		return CKR_DEVICE_REMOVED;
	if (!slot_present(s->slot)) {
		token_pulled(s->slot);
		return CKR_DEVICE_REMOVED;
	}
	*out = s;
	return CKR_OK;
}

static CK_RV get_slot(CK_SLOT_ID id, slot_t **out, int need_present)
{
	if (!g_inited)
		return CKR_CRYPTOKI_NOT_INITIALIZED;
	slot_t *sl = slot_by_id(id);
	if (sl == NULL)
		return CKR_SLOT_ID_INVALID;
	if (need_present && !slot_present(sl)) {
		token_pulled(sl);
		return CKR_TOKEN_NOT_PRESENT;
	}
	*out = sl;
	return CKR_OK;
}

/* ---------- objects on disk ---------- */

static CK_OBJECT_HANDLE token_handle(slot_t *sl, const char *fid)
{
	for (size_t i = 0; i < sl->nmemo; i++)
		if (strcmp(sl->memo[i].fid, fid) == 0)
			return sl->memo[i].h;
	CK_OBJECT_HANDLE h = g_next_handle++;
	struct handle_memo *m = realloc(sl->memo, (sl->nmemo + 1) * sizeof(*m));
	if (m != NULL) {
		sl->memo = m;
		memcpy(m[sl->nmemo].fid, fid, 17);
		m[sl->nmemo++].h = h;
	}
	return h;
}

static int obj_open_secret(slot_t *sl, object_t *o)
{
	if (o->enclen == 0 || o->secret_loaded)
		return 0;
	if (!sl->mk_ok || o->enclen < AEAD_OVERHEAD)
		return -1;
	size_t n = o->enclen - AEAD_OVERHEAD;
	unsigned char *pt = malloc(n ? n : 1);
	if (pt == NULL)
		return -1;
	int rc = -1;
	if (aead_open(sl->mk, (const unsigned char *)o->fid, 16, o->enc, o->enclen, pt) == 0) {
		attrs_t sec = {0};
		if (attrs_decode(pt, n, &sec) == 0) {
			rc = attrs_copy(&o->attrs, &sec);
			attrs_free(&sec);
		}
	}
	secure_zero(pt, n);
	free(pt);
	if (rc == 0)
		o->secret_loaded = 1;
	return rc;
}

/* obj_save writes a token object: private objects entirely sealed under
 * the master key (only CKA_PRIVATE stays readable), public ones in clear
 * except secret key material. */
static CK_RV obj_save(slot_t *sl, object_t *o)
{
	attrs_t clear = {0}, secret = {0};
	CK_ULONG cls = attrs_ulong(&o->attrs, CKA_CLASS, CKO_DATA);
	CK_RV rv = CKR_HOST_MEMORY;
	unsigned char *enc = NULL, *pt = NULL;
	size_t enclen = 0, ptlen = 0;
	if (attrs_bool(&o->attrs, CKA_PRIVATE, CK_FALSE)) {
		if (attrs_set_bool(&clear, CKA_PRIVATE, CK_TRUE) || attrs_copy(&secret, &o->attrs))
			goto out;
	} else {
		for (size_t i = 0; i < o->attrs.n; i++) {
			attr_t *a = &o->attrs.a[i];
			if (attrs_set(is_secret(cls, a->type) ? &secret : &clear, a->type, a->val, a->len))
				goto out;
		}
	}
	if (!o->secret_loaded) {
		enc = o->enc;
		enclen = o->enclen;
	} else if (secret.n > 0) {
		if (!sl->mk_ok) {
			rv = CKR_USER_NOT_LOGGED_IN;
			goto out;
		}
		if (attrs_encode(&secret, &pt, &ptlen))
			goto out;
		enclen = ptlen + AEAD_OVERHEAD;
		enc = malloc(enclen);
		if (enc == NULL || aead_seal(sl->mk, (const unsigned char *)o->fid, 16, pt, ptlen, enc)) {
			rv = CKR_FUNCTION_FAILED;
			goto out;
		}
	}
	rv = store_write_object(sl->dir, o->fid, &clear, enc, enclen) ? CKR_DEVICE_ERROR : CKR_OK;
	/* Remember our own version, so the next sync does not reload it. */
	if (rv == CKR_OK)
		store_object_stamp(sl->dir, o->fid, &o->stamp);
	if (rv == CKR_OK && enc != o->enc) {
		free(o->enc);
		o->enc = enc;
		o->enclen = enclen;
		enc = NULL;
	}
out:
	if (enc != o->enc)
		free(enc);
	if (pt != NULL) {
		secure_zero(pt, ptlen);
		free(pt);
	}
	attrs_free(&clear);
	attrs_free(&secret);
	return rv;
}

/* obj_read fills o from its file; a private object needs the master key. */
static int obj_read(slot_t *sl, object_t *o, const objent_t *e)
{
	attrs_t attrs = {0};
	unsigned char *enc;
	size_t enclen;
	if (store_read_object(sl->dir, e->fid, &attrs, &enc, &enclen))
		return -1;
	attrs_free(&o->attrs);
	free(o->enc);
	EVP_PKEY_free(o->pk);
	o->pk = NULL;
	o->attrs = attrs;
	o->enc = enc;
	o->enclen = enclen;
	o->secret_loaded = enclen == 0;
	o->stamp = e->stamp;
	if (attrs_bool(&o->attrs, CKA_PRIVATE, CK_FALSE) && !sl->mk_ok)
		return -1;
	return sl->mk_ok ? obj_open_secret(sl, o) : 0;
}

static int stamp_eq(const fstamp_t *a, const fstamp_t *b)
{
	return a->ino == b->ino && a->size == b->size && a->sec == b->sec && a->nsec == b->nsec;
}

/* slot_sync makes the in-memory object list match the token directory:
 * objects another process added, changed or removed appear, change or
 * vanish (keeping their handles), and sealed parts open once the user is
 * logged in. */
static void slot_sync(slot_t *sl)
{
	if (sl->dir == NULL)
		return;
	objent_t *ents;
	size_t n;
	if (store_list_objects(sl->dir, &ents, &n))
		return;
	object_t **pp = &sl->objs;
	while (*pp != NULL) {
		object_t *o = *pp;
		const objent_t *e = NULL;
		for (size_t i = 0; i < n && o->token && e == NULL; i++)
			if (strcmp(ents[i].fid, o->fid) == 0)
				e = &ents[i];
		int keep = !o->token;
		if (e != NULL && !stamp_eq(&e->stamp, &o->stamp))
			keep = obj_read(sl, o, e) == 0;
		else if (e != NULL) {
			keep = 1;
			if (sl->mk_ok)
				obj_open_secret(sl, o);
		}
		if (!keep) {
			*pp = o->next;
			obj_free(o);
			continue;
		}
		pp = &o->next;
	}
	for (size_t i = 0; i < n; i++) {
		int loaded = 0;
		for (object_t *o = sl->objs; o != NULL && !loaded; o = o->next)
			loaded = o->token && strcmp(o->fid, ents[i].fid) == 0;
		if (loaded)
			continue;
		object_t *o = calloc(1, sizeof(*o));
		if (o == NULL)
			break;
		memcpy(o->fid, ents[i].fid, 17);
		o->token = 1;
		if (obj_read(sl, o, &ents[i])) {
			obj_free(o);
			continue;
		}
		o->h = token_handle(sl, o->fid);
		o->next = sl->objs;
		sl->objs = o;
	}
	free(ents);
}

static int obj_visible(session_t *s, object_t *o)
{
	return !attrs_bool(&o->attrs, CKA_PRIVATE, CK_FALSE) || s->slot->login == CKU_USER;
}

static object_t *obj_find(session_t *s, CK_OBJECT_HANDLE h)
{
	for (object_t *o = s->slot->objs; o != NULL; o = o->next)
		if (o->h == h)
			return obj_visible(s, o) ? o : NULL;
	return NULL;
}

/* obj_new makes an object of a session's from attrs (taken over) and names
 * a token object's file; obj_add then puts it on the slot's list. */
static object_t *obj_new(session_t *s, attrs_t *attrs)
{
	object_t *o = calloc(1, sizeof(*o));
	if (o == NULL)
		return NULL;
	o->attrs = *attrs;
	memset(attrs, 0, sizeof(*attrs));
	o->token = attrs_bool(&o->attrs, CKA_TOKEN, CK_FALSE);
	o->owner = s->h;
	o->secret_loaded = 1;
	if (o->token) {
		unsigned char r[8];
		if (random_bytes(r, sizeof(r))) {
			obj_free(o);
			return NULL;
		}
		hex_encode(r, sizeof(r), o->fid);
	}
	return o;
}

static CK_OBJECT_HANDLE obj_add(slot_t *sl, object_t *o)
{
	o->h = o->token ? token_handle(sl, o->fid) : g_next_handle++;
	o->next = sl->objs;
	sl->objs = o;
	return o->h;
}

/* Every write or removal of a token's files happens under its file lock
 * (store.c relies on it to clean up after a killed writer). */
static CK_RV obj_save_locked(slot_t *sl, object_t *o)
{
	int fd = store_lock(sl->dir);
	if (fd < 0)
		return CKR_DEVICE_ERROR;
	CK_RV rv = obj_save(sl, o);
	store_unlock(fd);
	return rv;
}

static CK_RV obj_insert(session_t *s, attrs_t *attrs, CK_OBJECT_HANDLE *h)
{
	object_t *o = obj_new(s, attrs);
	if (o == NULL)
		return CKR_HOST_MEMORY;
	CK_RV rv = o->token ? obj_save_locked(s->slot, o) : CKR_OK;
	if (rv != CKR_OK) {
		obj_free(o);
		return rv;
	}
	*h = obj_add(s->slot, o);
	return CKR_OK;
}

static void obj_unlink(slot_t *sl, object_t *o)
{
	object_t **pp = &sl->objs;
	while (*pp != o)
		pp = &(*pp)->next;
	*pp = o->next;
	if (o->token) {
		int fd = store_lock(sl->dir);
		store_delete_object(sl->dir, o->fid);
		store_unlock(fd);
	}
	obj_free(o);
}

/* pair_save writes the token halves of a new key pair so that both or
 * neither survive a crash: with two token objects, a journal naming both is
 * on disk before either and removed after both (store_recover rolls an
 * unfinished one back when the token is next opened). */
static CK_RV pair_save(slot_t *sl, object_t *pub, object_t *priv)
{
	if (!pub->token && !priv->token)
		return CKR_OK;
	int fd = store_lock(sl->dir);
	if (fd < 0)
		return CKR_DEVICE_ERROR;
	CK_RV rv = CKR_OK;
	int both = pub->token && priv->token;
	char fids[2][17];
	memcpy(fids[0], pub->fid, 17);
	memcpy(fids[1], priv->fid, 17);
	if (both && store_journal_begin(sl->dir, fids, 2))
		rv = CKR_DEVICE_ERROR;
	if (rv == CKR_OK && pub->token)
		rv = obj_save(sl, pub);
	if (rv == CKR_OK && priv->token)
		rv = obj_save(sl, priv);
	if (rv == CKR_OK && both && store_journal_end(sl->dir, pub->fid))
		rv = CKR_DEVICE_ERROR;
	if (rv != CKR_OK) {
		/* Nothing of a failed pair may stay: remove what was written
		 * first, the journal last, as the recovery would. */
		if (pub->token)
			store_delete_object(sl->dir, pub->fid);
		if (priv->token)
			store_delete_object(sl->dir, priv->fid);
		if (both)
			store_journal_end(sl->dir, pub->fid);
	}
	store_unlock(fd);
	return rv;
}

/* ---------- keys ---------- */

/* ec_point_raw finds 04‖X‖Y in CKA_EC_POINT, which PKCS#11 wants as a DER
 * OCTET STRING and some callers give bare. */
static const unsigned char *ec_point_raw(const attr_t *a, size_t size, size_t *len)
{
	size_t want = 1 + 2 * size;
	if (a == NULL)
		return NULL;
	*len = want;
	if (a->len == want)
		return a->val;
	if (want < 128 && a->len == want + 2 && a->val[0] == 4 && a->val[1] == want)
		return a->val + 2;
	if (want >= 128 && a->len == want + 3 && a->val[0] == 4 && a->val[1] == 0x81 && a->val[2] == want)
		return a->val + 3;
	return NULL;
}

/* key_shape finds a key object's curve and its signature half size. */
static CK_RV key_shape(const object_t *o, const eccurve_t **ec, const paramset_t **ps, size_t *size)
{
	CK_ULONG kt = attrs_ulong(&o->attrs, CKA_KEY_TYPE, CK_UNAVAILABLE_INFORMATION);
	*ec = NULL;
	*ps = NULL;
	if (kt == CKK_EC) {
		attr_t *p = attrs_find(&o->attrs, CKA_EC_PARAMS);
		if (p == NULL || (*ec = eccurve_by_der(p->val, p->len)) == NULL)
			return CKR_KEY_TYPE_INCONSISTENT;
		*size = (*ec)->size;
		return CKR_OK;
	}
	attr_t *p = attrs_find(&o->attrs, CKA_GOSTR3410_PARAMS);
	if (p == NULL || (*ps = paramset_by_der(p->val, p->len)) == NULL ||
	    ((*ps)->bits == 512) != (kt == CKK_GOSTR3410_512))
		return CKR_KEY_TYPE_INCONSISTENT;
	*size = (size_t)(*ps)->bits / 8;
	return CKR_OK;
}

/* key_load makes the OpenSSL form of a key object. */
static EVP_PKEY *key_load(const object_t *o, const eccurve_t *ec, const paramset_t *ps, int private)
{
	attr_t *v = attrs_find(&o->attrs, CKA_VALUE);
	if (ec != NULL && !private) {
		size_t n;
		const unsigned char *pt = ec_point_raw(attrs_find(&o->attrs, CKA_EC_POINT), ec->size, &n);
		return pt != NULL ? ec_public_key(ec, pt, n) : NULL;
	}
	if (v == NULL)
		return NULL;
	if (ec != NULL)
		return ec_private_key(ec, v->val, v->len);
	return private ? gost_private_key(ps, v->val, v->len) : gost_public_key(ps, v->val, v->len);
}

/* ---------- templates ---------- */

static int is_bool_attr(CK_ATTRIBUTE_TYPE t)
{
	switch (t) {
	case CKA_TOKEN: case CKA_PRIVATE: case CKA_MODIFIABLE: case CKA_COPYABLE:
	case CKA_DESTROYABLE: case CKA_SENSITIVE: case CKA_EXTRACTABLE: case CKA_SIGN:
	case CKA_VERIFY: case CKA_DERIVE: case CKA_ENCRYPT: case CKA_DECRYPT:
	case CKA_WRAP: case CKA_UNWRAP: case CKA_SIGN_RECOVER: case CKA_VERIFY_RECOVER:
	case CKA_TRUSTED: case CKA_LOCAL: case CKA_ALWAYS_SENSITIVE: case CKA_NEVER_EXTRACTABLE:
	case CKA_ALWAYS_AUTHENTICATE: case CKA_WRAP_WITH_TRUSTED:
		return 1;
	}
	return 0;
}

static int is_ulong_attr(CK_ATTRIBUTE_TYPE t)
{
	switch (t) {
	case CKA_CLASS: case CKA_KEY_TYPE: case CKA_CERTIFICATE_TYPE:
	case CKA_CERTIFICATE_CATEGORY: case CKA_KEY_GEN_MECHANISM: case CKA_JAVA_MIDP_SECURITY_DOMAIN:
		return 1;
	}
	return 0;
}

/* tpl_merge overlays a caller's template on defaults after checking value
 * sizes; read-only attributes listed in ro are refused. */
static CK_RV tpl_merge(attrs_t *as, const CK_ATTRIBUTE *t, CK_ULONG n, const CK_ATTRIBUTE_TYPE *ro, size_t nro)
{
	if (n > 0 && t == NULL)
		return CKR_ARGUMENTS_BAD;
	for (CK_ULONG i = 0; i < n; i++) {
		if (t[i].ulValueLen > 0 && t[i].pValue == NULL)
			return CKR_ATTRIBUTE_VALUE_INVALID;
		if (t[i].ulValueLen > (1u << 24))
			return CKR_ATTRIBUTE_VALUE_INVALID;
		if (is_bool_attr(t[i].type) && t[i].ulValueLen != sizeof(CK_BBOOL))
			return CKR_ATTRIBUTE_VALUE_INVALID;
		if (is_ulong_attr(t[i].type) && t[i].ulValueLen != sizeof(CK_ULONG))
			return CKR_ATTRIBUTE_VALUE_INVALID;
		for (size_t j = 0; j < nro; j++)
			if (ro[j] == t[i].type)
				return CKR_ATTRIBUTE_READ_ONLY;
		if (attrs_set(as, t[i].type, t[i].pValue, t[i].ulValueLen))
			return CKR_HOST_MEMORY;
	}
	return CKR_OK;
}

static const CK_ATTRIBUTE *tpl_get(const CK_ATTRIBUTE *t, CK_ULONG n, CK_ATTRIBUTE_TYPE type)
{
	for (CK_ULONG i = 0; t != NULL && i < n; i++)
		if (t[i].type == type)
			return &t[i];
	return NULL;
}

static CK_RV set_common_defaults(attrs_t *as, CK_OBJECT_CLASS cls)
{
	CK_BBOOL f = CK_FALSE, tr = CK_TRUE;
	int rc = attrs_set_ulong(as, CKA_CLASS, cls) ||
		 attrs_set_bool(as, CKA_TOKEN, f) ||
		 attrs_set_bool(as, CKA_PRIVATE, cls == CKO_PRIVATE_KEY ? tr : f) ||
		 attrs_set_bool(as, CKA_MODIFIABLE, tr) ||
		 attrs_set_bool(as, CKA_COPYABLE, tr) ||
		 attrs_set_bool(as, CKA_DESTROYABLE, tr) ||
		 attrs_set(as, CKA_LABEL, "", 0);
	if (!rc && (cls == CKO_PUBLIC_KEY || cls == CKO_PRIVATE_KEY)) {
		rc = attrs_set(as, CKA_ID, "", 0) || attrs_set(as, CKA_START_DATE, "", 0) ||
		     attrs_set(as, CKA_END_DATE, "", 0) || attrs_set_bool(as, CKA_DERIVE, f) ||
		     attrs_set_bool(as, CKA_LOCAL, f) ||
		     attrs_set_ulong(as, CKA_KEY_GEN_MECHANISM, CK_UNAVAILABLE_INFORMATION) ||
		     attrs_set(as, CKA_SUBJECT, "", 0);
	}
	if (!rc && cls == CKO_PUBLIC_KEY) {
		rc = attrs_set_bool(as, CKA_ENCRYPT, f) || attrs_set_bool(as, CKA_VERIFY, tr) ||
		     attrs_set_bool(as, CKA_VERIFY_RECOVER, f) || attrs_set_bool(as, CKA_WRAP, f) ||
		     attrs_set_bool(as, CKA_TRUSTED, f);
	}
	if (!rc && cls == CKO_PRIVATE_KEY) {
		rc = attrs_set_bool(as, CKA_SENSITIVE, tr) || attrs_set_bool(as, CKA_DECRYPT, f) ||
		     attrs_set_bool(as, CKA_SIGN, tr) || attrs_set_bool(as, CKA_SIGN_RECOVER, f) ||
		     attrs_set_bool(as, CKA_UNWRAP, f) || attrs_set_bool(as, CKA_EXTRACTABLE, f) ||
		     attrs_set_bool(as, CKA_ALWAYS_SENSITIVE, f) ||
		     attrs_set_bool(as, CKA_NEVER_EXTRACTABLE, f) ||
		     attrs_set_bool(as, CKA_ALWAYS_AUTHENTICATE, f) ||
		     attrs_set_bool(as, CKA_WRAP_WITH_TRUSTED, f);
	}
	if (!rc && cls == CKO_CERTIFICATE) {
		rc = attrs_set_bool(as, CKA_TRUSTED, f) ||
		     attrs_set_ulong(as, CKA_CERTIFICATE_CATEGORY, 0) ||
		     attrs_set(as, CKA_ID, "", 0) || attrs_set(as, CKA_ISSUER, "", 0) ||
		     attrs_set(as, CKA_SERIAL_NUMBER, "", 0) || attrs_set(as, CKA_SUBJECT, "", 0) ||
		     attrs_set(as, CKA_START_DATE, "", 0) || attrs_set(as, CKA_END_DATE, "", 0);
	}
	if (!rc && cls == CKO_DATA)
		rc = attrs_set(as, CKA_APPLICATION, "", 0) || attrs_set(as, CKA_VALUE, "", 0);
	return rc ? CKR_HOST_MEMORY : CKR_OK;
}

/* key_params checks a GOST key's parameter attributes: the curve must be
 * one the engine knows with the size the key type says, the hash one that
 * goes with it (GOST R 34.11-94 is allowed on 256-bit keys, which are also
 * GOST R 34.10-2001 keys). */
static CK_RV key_params(const attrs_t *as, const paramset_t **ps)
{
	static const unsigned char gost94[9] = {0x06, 0x07, 0x2a, 0x85, 0x03, 0x02, 0x02, 0x1e, 0x01};
	CK_ULONG kt = attrs_ulong(as, CKA_KEY_TYPE, CK_UNAVAILABLE_INFORMATION);
	if (kt != CKK_GOSTR3410 && kt != CKK_GOSTR3410_512)
		return CKR_ATTRIBUTE_VALUE_INVALID;
	attr_t *p = attrs_find(as, CKA_GOSTR3410_PARAMS);
	if (p == NULL)
		return CKR_TEMPLATE_INCOMPLETE;
	*ps = paramset_by_der(p->val, p->len);
	if (*ps == NULL)
		return CKR_DOMAIN_PARAMS_INVALID;
	if (((*ps)->bits == 512) != (kt == CKK_GOSTR3410_512))
		return CKR_TEMPLATE_INCONSISTENT;
	attr_t *h = attrs_find(as, CKA_GOSTR3411_PARAMS);
	if (h == NULL)
		return CKR_OK;
	if ((*ps)->bits == 512)
		return h->len == sizeof(OID_STREEBOG512) && !memcmp(h->val, OID_STREEBOG512, h->len) ? CKR_OK : CKR_ATTRIBUTE_VALUE_INVALID;
	if ((h->len == sizeof(OID_STREEBOG256) && !memcmp(h->val, OID_STREEBOG256, h->len)) ||
	    (h->len == sizeof(OID_STREEBOG512) && !memcmp(h->val, OID_STREEBOG512, h->len)) ||
	    (h->len == sizeof(gost94) && !memcmp(h->val, gost94, h->len)))
		return CKR_OK;
	return CKR_ATTRIBUTE_VALUE_INVALID;
}

/* ec_key_params checks an EC key's CKA_EC_PARAMS: a named curve the
 * module supports. */
static CK_RV ec_key_params(const attrs_t *as, const eccurve_t **c)
{
	attr_t *p = attrs_find(as, CKA_EC_PARAMS);
	if (p == NULL)
		return CKR_TEMPLATE_INCOMPLETE;
	*c = eccurve_by_der(p->val, p->len);
	return *c != NULL ? CKR_OK : CKR_DOMAIN_PARAMS_INVALID;
}

/* ec_point_der wraps 04‖X‖Y in the DER OCTET STRING CKA_EC_POINT holds. */
static int ec_point_der(attrs_t *as, const unsigned char *pt, size_t n)
{
	unsigned char buf[3 + 1 + 2 * 66];
	size_t h = 0;
	buf[h++] = 4;
	if (n >= 128)
		buf[h++] = 0x81;
	buf[h++] = (unsigned char)n;
	memcpy(buf + h, pt, n);
	return attrs_set(as, CKA_EC_POINT, buf, h + n);
}

static CK_RV check_create_rights(session_t *s, const attrs_t *as)
{
	if (attrs_bool(as, CKA_TOKEN, CK_FALSE) && !(s->flags & CKF_RW_SESSION))
		return CKR_SESSION_READ_ONLY;
	if (attrs_bool(as, CKA_PRIVATE, CK_FALSE) && s->slot->login != CKU_USER)
		return CKR_USER_NOT_LOGGED_IN;
	return CKR_OK;
}

/* ---------- PIN handling ---------- */

static void aad_for(const tstate_t *st, CK_USER_TYPE who, char *aad)
{
	sprintf(aad, "%s:%s", st->serial, who == CKU_SO ? "so" : "user");
}

/* wrap_mk seals the master key under a PIN with the configured KDF and a
 * fresh salt, recording the KDF beside the copy. */
static CK_RV wrap_mk(tstate_t *st, CK_USER_TYPE who, const unsigned char *pin, CK_ULONG len, const unsigned char *mk)
{
	unsigned char kek[32];
	unsigned char *salt = who == CKU_SO ? st->so_salt : st->user_salt;
	unsigned char *wrap = who == CKU_SO ? st->so_wrap : st->user_wrap;
	kdf_t *kdf = who == CKU_SO ? &st->so_kdf : &st->user_kdf;
	char aad[32];
	if (random_bytes(salt, SALT_LEN) || kek_derive(pin, len, salt, &g_cfg.kdf, kek))
		return CKR_FUNCTION_FAILED;
	*kdf = g_cfg.kdf;
	aad_for(st, who, aad);
	int rc = aead_seal(kek, (unsigned char *)aad, strlen(aad), mk, MK_LEN, wrap);
	secure_zero(kek, sizeof(kek));
	if (rc)
		return CKR_FUNCTION_FAILED;
	if (who == CKU_USER)
		st->has_user = 1;
	return CKR_OK;
}

/* pin_try_begin counts an attempt against a PIN on disk before the PIN is
 * tried, so that killing the process mid-check cannot buy a free attempt.
 * The caller holds the token's file lock and passes the state. */
static CK_RV pin_try_begin(const char *dir, tstate_t *st, CK_USER_TYPE who, const unsigned char *pin, CK_ULONG len)
{
	if (who == CKU_USER && !st->has_user)
		return CKR_USER_PIN_NOT_INITIALIZED;
	unsigned *fail = who == CKU_SO ? &st->so_fail : &st->user_fail;
	if (*fail >= st->max_retries)
		return CKR_PIN_LOCKED;
	if (pin == NULL && len > 0)
		return CKR_ARGUMENTS_BAD;
	(*fail)++;
	return store_write_state(dir, st) ? CKR_DEVICE_ERROR : CKR_OK;
}

/* pin_open derives the PIN's key (the slow part) and opens the master key
 * from st's copy into mk. With next, a copy wrapped by a weaker KDF than the
 * configured one (PBKDF2 from before scrypt, or smaller scrypt parameters)
 * is also wrapped again into *next, and *rewrapped says so. It reads only
 * its arguments and g_cfg (fixed while the module is initialized), so it
 * runs without the module's locks. */
static int pin_open(const tstate_t *st, CK_USER_TYPE who, const unsigned char *pin, CK_ULONG len, unsigned char *mk,
		    tstate_t *next, int *rewrapped)
{
	unsigned char kek[32];
	char aad[32];
	const kdf_t *kdf = who == CKU_SO ? &st->so_kdf : &st->user_kdf;
	if (pin == NULL)
		pin = (const unsigned char *)"";
	aad_for(st, who, aad);
	int ok = kek_derive(pin, len, who == CKU_SO ? st->so_salt : st->user_salt, kdf, kek) == 0 &&
		 aead_open(kek, (unsigned char *)aad, strlen(aad),
			   who == CKU_SO ? st->so_wrap : st->user_wrap, WRAP_LEN, mk) == 0;
	secure_zero(kek, sizeof(kek));
	if (ok && next != NULL && kdf_weaker(kdf, &g_cfg.kdf)) {
		/* A failed re-wrap must not fail the login: the old copy stays. */
		*next = *st;
		*rewrapped = wrap_mk(next, who, pin, len, mk) == CKR_OK;
	}
	return ok ? 0 : -1;
}

/* same_copy tells whether two states hold the same wrapped copy for who. */
static int same_copy(const tstate_t *a, const tstate_t *b, CK_USER_TYPE who)
{
	if (who == CKU_SO)
		return memcmp(a->so_salt, b->so_salt, SALT_LEN) == 0 && memcmp(a->so_wrap, b->so_wrap, WRAP_LEN) == 0 &&
		       memcmp(&a->so_kdf, &b->so_kdf, sizeof(kdf_t)) == 0;
	return a->has_user && b->has_user && memcmp(a->user_salt, b->user_salt, SALT_LEN) == 0 &&
	       memcmp(a->user_wrap, b->user_wrap, WRAP_LEN) == 0 && memcmp(&a->user_kdf, &b->user_kdf, sizeof(kdf_t)) == 0;
}

/* pin_try_end records a correct PIN: the counter reset and, given next, the
 * re-wrapped copy, in one atomic write of token.conf (a kill leaves the old
 * copy or the new one, and the PIN opens either). The caller holds the
 * token's file lock and passes the current state. */
static CK_RV pin_try_end(const char *dir, tstate_t *st, CK_USER_TYPE who, const tstate_t *next)
{
	if (who == CKU_SO) {
		st->so_fail = 0;
		if (next != NULL) {
			st->so_kdf = next->so_kdf;
			memcpy(st->so_salt, next->so_salt, SALT_LEN);
			memcpy(st->so_wrap, next->so_wrap, WRAP_LEN);
		}
	} else {
		st->user_fail = 0;
		if (next != NULL) {
			st->user_kdf = next->user_kdf;
			memcpy(st->user_salt, next->user_salt, SALT_LEN);
			memcpy(st->user_wrap, next->user_wrap, WRAP_LEN);
		}
	}
	return store_write_state(dir, st) ? CKR_DEVICE_ERROR : CKR_OK;
}

/* pin_verify checks a PIN and opens the master key in one go, all under
 * the caller's locks (C_SetPIN and C_InitToken, which then wrap anew
 * anyway; C_Login splits the steps to run the KDF unlocked). */
static CK_RV pin_verify(const char *dir, tstate_t *st, CK_USER_TYPE who, const unsigned char *pin, CK_ULONG len, unsigned char *mk)
{
	CK_RV rv = pin_try_begin(dir, st, who, pin, len);
	if (rv != CKR_OK)
		return rv;
	if (pin_open(st, who, pin, len, mk, NULL, NULL))
		return CKR_PIN_INCORRECT;
	rv = pin_try_end(dir, st, who, NULL);
	if (rv != CKR_OK)
		secure_zero(mk, MK_LEN); /* the caller treats the check as failed */
	return rv;
}

static CK_FLAGS pin_flags(const tstate_t *st)
{
	CK_FLAGS f = 0;
	if (st->has_user) {
		if (st->user_fail >= st->max_retries)
			f |= CKF_USER_PIN_LOCKED;
		else {
			if (st->user_fail > 0)
				f |= CKF_USER_PIN_COUNT_LOW;
			if (st->max_retries - st->user_fail == 1)
				f |= CKF_USER_PIN_FINAL_TRY;
		}
	}
	if (st->so_fail >= st->max_retries)
		f |= CKF_SO_PIN_LOCKED;
	else {
		if (st->so_fail > 0)
			f |= CKF_SO_PIN_COUNT_LOW;
		if (st->max_retries - st->so_fail == 1)
			f |= CKF_SO_PIN_FINAL_TRY;
	}
	return f;
}

static int pin_len_ok(CK_ULONG len)
{
	return len >= g_cfg.min_pin && len <= g_cfg.max_pin;
}

/* ---------- general ---------- */

CK_RV C_Initialize(CK_VOID_PTR pInitArgs)
{
	if (pInitArgs != NULL) {
		CK_C_INITIALIZE_ARGS *a = pInitArgs;
		int set = (a->CreateMutex != NULL) + (a->DestroyMutex != NULL) + (a->LockMutex != NULL) + (a->UnlockMutex != NULL);
		if (a->pReserved != NULL || (set != 0 && set != 4))
			return CKR_ARGUMENTS_BAD;
		/* Caller-supplied mutexes without leave to use the OS's: the
		 * module only has pthread locks. */
		if (set == 4 && !(a->flags & CKF_OS_LOCKING_OK))
			return CKR_CANT_LOCK;
	}
	pthread_mutex_lock(&g_lock);
	CK_RV rv = CKR_OK;
	if (g_inited)
		rv = CKR_CRYPTOKI_ALREADY_INITIALIZED;
	else if (config_load(&g_cfg))
		rv = CKR_GENERAL_ERROR;
	else if (gost_init()) {
		config_free(&g_cfg);
		rv = CKR_GENERAL_ERROR;
	} else {
		g_inited = 1;
		refresh_slots();
	}
	pthread_mutex_unlock(&g_lock);
	return rv;
}

CK_RV C_Finalize(CK_VOID_PTR pReserved)
{
	if (pReserved != NULL)
		return CKR_ARGUMENTS_BAD;
	pthread_mutex_lock(&g_lock);
	if (!g_inited) {
		pthread_mutex_unlock(&g_lock);
		return CKR_CRYPTOKI_NOT_INITIALIZED;
	}
	g_inited = 0;
	pthread_cond_broadcast(&g_cond);
	while (g_waiters > 0)
		pthread_cond_wait(&g_cond, &g_lock);
	while (g_sessions != NULL) {
		session_t *s = g_sessions;
		g_sessions = s->next;
		session_free(s);
	}
	for (size_t i = 0; i < g_nslots; i++) {
		slot_logout(g_slots[i]);
		objs_remove_if(g_slots[i], pred_all, NULL);
		free(g_slots[i]->dir);
		free(g_slots[i]->memo);
		free(g_slots[i]);
	}
	free(g_slots);
	g_slots = NULL;
	g_nslots = 0;
	config_free(&g_cfg);
	pthread_mutex_unlock(&g_lock);
	return CKR_OK;
}

CK_RV C_GetInfo(CK_INFO_PTR pInfo)
{
	if (pInfo == NULL)
		return CKR_ARGUMENTS_BAD;
	pthread_mutex_lock(&g_lock);
	int inited = g_inited;
	pthread_mutex_unlock(&g_lock);
	if (!inited)
		return CKR_CRYPTOKI_NOT_INITIALIZED;
	memset(pInfo, 0, sizeof(*pInfo));
	pInfo->cryptokiVersion.major = 2;
	pInfo->cryptokiVersion.minor = 40;
	pad(pInfo->manufacturerID, sizeof(pInfo->manufacturerID), MANUFACTURER);
	pad(pInfo->libraryDescription, sizeof(pInfo->libraryDescription), "gostkey GOST software token");
	pInfo->libraryVersion.major = 0;
	pInfo->libraryVersion.minor = 1;
	return CKR_OK;
}

CK_RV C_GetFunctionList(CK_FUNCTION_LIST_PTR_PTR ppFunctionList)
{
	if (ppFunctionList == NULL)
		return CKR_ARGUMENTS_BAD;
	*ppFunctionList = &g_functions;
	return CKR_OK;
}

/* ---------- slots and tokens ---------- */

CK_RV C_GetSlotList(CK_BBOOL tokenPresent, CK_SLOT_ID_PTR pSlotList, CK_ULONG_PTR pulCount)
{
	if (pulCount == NULL)
		return CKR_ARGUMENTS_BAD;
	pthread_mutex_lock(&g_lock);
	CK_RV rv = CKR_OK;
	if (!g_inited) {
		rv = CKR_CRYPTOKI_NOT_INITIALIZED;
		goto out;
	}
	if (pSlotList == NULL)
		refresh_slots();
	CK_ULONG n = 0;
	for (size_t i = 0; i < g_nslots; i++) {
		if (tokenPresent && !slot_present(g_slots[i]))
			continue;
		if (pSlotList != NULL && n < *pulCount)
			pSlotList[n] = g_slots[i]->id;
		n++;
	}
	if (pSlotList != NULL && n > *pulCount)
		rv = CKR_BUFFER_TOO_SMALL;
	*pulCount = n;
out:
	pthread_mutex_unlock(&g_lock);
	return rv;
}

CK_RV C_GetSlotInfo(CK_SLOT_ID slotID, CK_SLOT_INFO_PTR pInfo)
{
	if (pInfo == NULL)
		return CKR_ARGUMENTS_BAD;
	pthread_mutex_lock(&g_lock);
	slot_t *sl;
	CK_RV rv = get_slot(slotID, &sl, 0);
	if (rv == CKR_OK) {
		memset(pInfo, 0, sizeof(*pInfo));
		char desc[128];
		const char *base = sl->dir != NULL ? strrchr(sl->dir, '/') : NULL;
		snprintf(desc, sizeof(desc), "gostkey softtoken %s", base != NULL ? base + 1 : "(new token)");
		pad(pInfo->slotDescription, sizeof(pInfo->slotDescription), desc);
		pad(pInfo->manufacturerID, sizeof(pInfo->manufacturerID), MANUFACTURER);
		pInfo->flags = CKF_REMOVABLE_DEVICE | (slot_present(sl) ? CKF_TOKEN_PRESENT : 0);
		pInfo->hardwareVersion.minor = 1;
		pInfo->firmwareVersion.minor = 1;
	}
	pthread_mutex_unlock(&g_lock);
	return rv;
}

CK_RV C_GetTokenInfo(CK_SLOT_ID slotID, CK_TOKEN_INFO_PTR pInfo)
{
	if (pInfo == NULL)
		return CKR_ARGUMENTS_BAD;
	pthread_mutex_lock(&g_lock);
	slot_t *sl;
	tstate_t st;
	CK_RV rv = get_slot(slotID, &sl, 1);
	if (rv != CKR_OK)
		goto out;
	memset(&st, 0, sizeof(st));
	if (sl->dir != NULL && store_read_state(sl->dir, &st)) {
		rv = CKR_DEVICE_ERROR;
		goto out;
	}
	memset(pInfo, 0, sizeof(*pInfo));
	pad(pInfo->label, sizeof(pInfo->label), st.label);
	pad(pInfo->manufacturerID, sizeof(pInfo->manufacturerID), MANUFACTURER);
	pad(pInfo->model, sizeof(pInfo->model), MODEL);
	pad(pInfo->serialNumber, sizeof(pInfo->serialNumber), st.serial);
	pInfo->flags = CKF_RNG | CKF_LOGIN_REQUIRED;
	if (st.initialized) {
		pInfo->flags |= CKF_TOKEN_INITIALIZED | pin_flags(&st);
		if (st.has_user)
			pInfo->flags |= CKF_USER_PIN_INITIALIZED;
	}
	pInfo->ulMaxSessionCount = CK_EFFECTIVELY_INFINITE;
	pInfo->ulMaxRwSessionCount = CK_EFFECTIVELY_INFINITE;
	pInfo->ulSessionCount = (CK_ULONG)slot_sessions(sl, 0);
	pInfo->ulRwSessionCount = pInfo->ulSessionCount - (CK_ULONG)slot_sessions(sl, 1);
	pInfo->ulMaxPinLen = g_cfg.max_pin;
	pInfo->ulMinPinLen = g_cfg.min_pin;
	pInfo->ulTotalPublicMemory = CK_UNAVAILABLE_INFORMATION;
	pInfo->ulFreePublicMemory = CK_UNAVAILABLE_INFORMATION;
	pInfo->ulTotalPrivateMemory = CK_UNAVAILABLE_INFORMATION;
	pInfo->ulFreePrivateMemory = CK_UNAVAILABLE_INFORMATION;
	pInfo->hardwareVersion.minor = 1;
	pInfo->firmwareVersion.minor = 1;
	memset(pInfo->utcTime, ' ', sizeof(pInfo->utcTime));
out:
	pthread_mutex_unlock(&g_lock);
	return rv;
}

/* poll_events looks for a slot whose presence changed since it was last
 * reported, and for token directories that appeared. */
static int poll_events(CK_SLOT_ID *slot)
{
	size_t before = g_nslots;
	refresh_slots();
	for (size_t i = 0; i < g_nslots; i++) {
		slot_t *sl = g_slots[i];
		int now = slot_present(sl);
		if (i >= before && sl->dir != NULL) {
			sl->reported = now;
			*slot = sl->id;
			return 1;
		}
		if (now != sl->reported) {
			sl->reported = now;
			if (!now)
				token_pulled(sl);
			*slot = sl->id;
			return 1;
		}
	}
	return 0;
}

CK_RV C_WaitForSlotEvent(CK_FLAGS flags, CK_SLOT_ID_PTR pSlot, CK_VOID_PTR pReserved)
{
	if (pSlot == NULL || pReserved != NULL)
		return CKR_ARGUMENTS_BAD;
	pthread_mutex_lock(&g_lock);
	CK_RV rv = CKR_NO_EVENT;
	if (!g_inited) {
		rv = CKR_CRYPTOKI_NOT_INITIALIZED;
		goto out;
	}
	if (poll_events(pSlot)) {
		rv = CKR_OK;
		goto out;
	}
	if (flags & CKF_DONT_BLOCK)
		goto out;
	g_waiters++;
	while (g_inited) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += (long)g_cfg.poll_ms * 1000000L;
		ts.tv_sec += ts.tv_nsec / 1000000000L;
		ts.tv_nsec %= 1000000000L;
		pthread_cond_timedwait(&g_cond, &g_lock, &ts);
		if (g_inited && poll_events(pSlot)) {
			rv = CKR_OK;
			break;
		}
	}
	if (!g_inited)
		rv = CKR_CRYPTOKI_NOT_INITIALIZED;
	g_waiters--;
	pthread_cond_broadcast(&g_cond);
out:
	pthread_mutex_unlock(&g_lock);
	return rv;
}

typedef struct {
	CK_MECHANISM_TYPE type;
	CK_ULONG min, max;
	CK_FLAGS flags;
} mech_t;

static const mech_t mechs[] = {
	{CKM_GOSTR3410_KEY_PAIR_GEN, 256, 256, CKF_GENERATE_KEY_PAIR},
	{CKM_GOSTR3410_512_KEY_PAIR_GEN, 512, 512, CKF_GENERATE_KEY_PAIR},
	{CKM_GOSTR3410, 256, 256, CKF_SIGN | CKF_VERIFY},
	{CKM_GOSTR3410_512, 512, 512, CKF_SIGN | CKF_VERIFY},
	{CKM_GOSTR3410_WITH_GOSTR3411_12_256, 256, 256, CKF_SIGN | CKF_VERIFY},
	{CKM_GOSTR3410_WITH_GOSTR3411_12_512, 512, 512, CKF_SIGN | CKF_VERIFY},
	{CKM_GOSTR3411_12_256, 0, 0, CKF_DIGEST},
	{CKM_GOSTR3411_12_512, 0, 0, CKF_DIGEST},
#define EC_FLAGS (CKF_EC_F_P | CKF_EC_NAMEDCURVE | CKF_EC_UNCOMPRESS)
	{CKM_EC_KEY_PAIR_GEN, 256, 521, CKF_GENERATE_KEY_PAIR | EC_FLAGS},
	{CKM_ECDSA, 256, 521, CKF_SIGN | CKF_VERIFY | EC_FLAGS},
	{CKM_ECDSA_SHA256, 256, 521, CKF_SIGN | CKF_VERIFY | EC_FLAGS},
	{CKM_ECDSA_SHA384, 256, 521, CKF_SIGN | CKF_VERIFY | EC_FLAGS},
	{CKM_ECDSA_SHA512, 256, 521, CKF_SIGN | CKF_VERIFY | EC_FLAGS},
};
#define NMECHS (sizeof(mechs) / sizeof(mechs[0]))

CK_RV C_GetMechanismList(CK_SLOT_ID slotID, CK_MECHANISM_TYPE_PTR pMechanismList, CK_ULONG_PTR pulCount)
{
	if (pulCount == NULL)
		return CKR_ARGUMENTS_BAD;
	pthread_mutex_lock(&g_lock);
	slot_t *sl;
	CK_RV rv = get_slot(slotID, &sl, 1);
	if (rv == CKR_OK) {
		if (pMechanismList != NULL) {
			if (*pulCount < NMECHS)
				rv = CKR_BUFFER_TOO_SMALL;
			else
				for (size_t i = 0; i < NMECHS; i++)
					pMechanismList[i] = mechs[i].type;
		}
		*pulCount = NMECHS;
	}
	pthread_mutex_unlock(&g_lock);
	return rv;
}

CK_RV C_GetMechanismInfo(CK_SLOT_ID slotID, CK_MECHANISM_TYPE type, CK_MECHANISM_INFO_PTR pInfo)
{
	if (pInfo == NULL)
		return CKR_ARGUMENTS_BAD;
	pthread_mutex_lock(&g_lock);
	slot_t *sl;
	CK_RV rv = get_slot(slotID, &sl, 1);
	if (rv == CKR_OK) {
		rv = CKR_MECHANISM_INVALID;
		for (size_t i = 0; i < NMECHS; i++) {
			if (mechs[i].type == type) {
				pInfo->ulMinKeySize = mechs[i].min;
				pInfo->ulMaxKeySize = mechs[i].max;
				pInfo->flags = mechs[i].flags;
				rv = CKR_OK;
			}
		}
	}
	pthread_mutex_unlock(&g_lock);
	return rv;
}

/* token_secure tightens a token directory and the base directory to the
 * user alone, or refuses them (store_secure). The module has no log: the
 * refusal is also one line on stderr, naming the directory, since
 * CKR_DEVICE_ERROR alone would leave the user guessing. */
static CK_RV token_secure(const char *dir)
{
	const char *bad = store_secure_root(g_cfg.dir) ? g_cfg.dir : store_secure(dir) ? dir : NULL;
	if (bad == NULL)
		return CKR_OK;
	fprintf(stderr, "libgostkey-softtoken: %s: open to group or others and owned by another user (or unreadable); "
			"refused: make it 0700 and its files 0600, owned by uid %u\n", bad, (unsigned)geteuid());
	return CKR_DEVICE_ERROR;
}

/* token_open readies a token directory for a session: its permissions
 * (token_secure), and under the token lock, it undoes what a writer killed
 * midway left behind (store_recover). */
static CK_RV token_open(slot_t *sl)
{
	CK_RV rv = token_secure(sl->dir);
	if (rv != CKR_OK)
		return rv;
	int fd = store_lock(sl->dir);
	if (fd < 0)
		return CKR_DEVICE_ERROR;
	store_recover(sl->dir);
	store_unlock(fd);
	return CKR_OK;
}

static void label_from(const CK_UTF8CHAR *in, char *out)
{
	memcpy(out, in, 32);
	out[32] = 0;
	for (int i = 31; i >= 0 && (out[i] == ' ' || out[i] == 0); i--)
		out[i] = 0;
}

static int mkdir_p(const char *path)
{
	char *p = strdup(path);
	if (p == NULL)
		return -1;
	for (char *c = p + 1; *c; c++) {
		if (*c != '/')
			continue;
		*c = 0;
		if (mkdir(p, 0700) != 0 && errno != EEXIST) {
			free(p);
			return -1;
		}
		*c = '/';
	}
	int rc = mkdir(p, 0700) != 0 && errno != EEXIST ? -1 : 0;
	free(p);
	return rc;
}

CK_RV C_InitToken(CK_SLOT_ID slotID, CK_UTF8CHAR_PTR pPin, CK_ULONG ulPinLen, CK_UTF8CHAR_PTR pLabel)
{
	if (pPin == NULL || pLabel == NULL)
		return CKR_ARGUMENTS_BAD;
	pthread_mutex_lock(&g_lock);
	slot_t *sl;
	tstate_t st;
	unsigned char mk[MK_LEN];
	int fd = -1;
	char *newdir = NULL;
	CK_RV rv = get_slot(slotID, &sl, 1);
	if (rv != CKR_OK)
		goto out;
	if (slot_sessions(sl, 0) > 0) {
		rv = CKR_SESSION_EXISTS;
		goto out;
	}
	/* An SO PIN out of range cannot be the current one either. */
	if (!pin_len_ok(ulPinLen)) {
		rv = CKR_PIN_LEN_RANGE;
		goto out;
	}
	if (sl->dir == NULL) {
		unsigned char r[8];
		char serial[17];
		if (random_bytes(r, sizeof(r))) {
			rv = CKR_FUNCTION_FAILED;
			goto out;
		}
		hex_encode(r, sizeof(r), serial);
		newdir = path_join(g_cfg.dir, serial);
		if (newdir == NULL || mkdir_p(newdir)) {
			rv = CKR_DEVICE_ERROR;
			goto out;
		}
		memset(&st, 0, sizeof(st));
		memcpy(st.serial, serial, 17);
	}
	const char *dir = newdir != NULL ? newdir : sl->dir;
	/* A directory the user made (an uninitialized token) may be 0755:
	 * the token's files and their names are its owner's alone. */
	if ((rv = token_secure(dir)) != CKR_OK)
		goto out;
	fd = store_lock(dir);
	if (fd < 0) {
		rv = CKR_DEVICE_ERROR;
		goto out;
	}
	if (newdir == NULL) {
		store_recover(dir);
		if (store_read_state(dir, &st)) {
			rv = CKR_DEVICE_ERROR;
			goto out;
		}
		if (st.initialized) {
			rv = pin_verify(dir, &st, CKU_SO, pPin, ulPinLen, mk);
			secure_zero(mk, sizeof(mk));
			if (rv != CKR_OK)
				goto out;
			if (store_delete_all_objects(dir)) {
				rv = CKR_DEVICE_ERROR;
				goto out;
			}
			objs_remove_if(sl, pred_all, NULL);
		} else {
			unsigned char r[8];
			if (random_bytes(r, sizeof(r))) {
				rv = CKR_FUNCTION_FAILED;
				goto out;
			}
			hex_encode(r, sizeof(r), st.serial);
		}
	}
	label_from(pLabel, st.label);
	st.max_retries = g_cfg.retries;
	st.user_fail = st.so_fail = 0;
	st.has_user = 0;
	if (random_bytes(mk, sizeof(mk))) {
		rv = CKR_FUNCTION_FAILED;
		goto out;
	}
	rv = wrap_mk(&st, CKU_SO, pPin, ulPinLen, mk);
	secure_zero(mk, sizeof(mk));
	if (rv != CKR_OK)
		goto out;
	if (store_write_state(dir, &st)) {
		rv = CKR_DEVICE_ERROR;
		goto out;
	}
	if (newdir != NULL) {
		sl->dir = newdir;
		newdir = NULL;
		refresh_slots();
	}
out:
	store_unlock(fd);
	if (newdir != NULL) {
		char *lock = path_join(newdir, ".lock");
		if (lock != NULL)
			unlink(lock);
		free(lock);
		rmdir(newdir);
	}
	free(newdir);
	pthread_mutex_unlock(&g_lock);
	return rv;
}

CK_RV C_InitPIN(CK_SESSION_HANDLE hSession, CK_UTF8CHAR_PTR pPin, CK_ULONG ulPinLen)
{
	pthread_mutex_lock(&g_lock);
	session_t *s;
	tstate_t st;
	int fd = -1;
	CK_RV rv = get_session(hSession, &s);
	if (rv != CKR_OK)
		goto out;
	if (s->slot->login != CKU_SO) {
		rv = CKR_USER_NOT_LOGGED_IN;
		goto out;
	}
	if (pPin == NULL) {
		rv = CKR_ARGUMENTS_BAD;
		goto out;
	}
	if (!pin_len_ok(ulPinLen)) {
		rv = CKR_PIN_LEN_RANGE;
		goto out;
	}
	fd = store_lock(s->slot->dir);
	if (fd < 0 || store_read_state(s->slot->dir, &st) || !st.initialized) {
		rv = CKR_DEVICE_ERROR;
		goto out;
	}
	rv = wrap_mk(&st, CKU_USER, pPin, ulPinLen, s->slot->mk);
	st.user_fail = 0;
	if (rv == CKR_OK && store_write_state(s->slot->dir, &st))
		rv = CKR_DEVICE_ERROR;
out:
	store_unlock(fd);
	pthread_mutex_unlock(&g_lock);
	return rv;
}

CK_RV C_SetPIN(CK_SESSION_HANDLE hSession, CK_UTF8CHAR_PTR pOldPin, CK_ULONG ulOldLen, CK_UTF8CHAR_PTR pNewPin, CK_ULONG ulNewLen)
{
	pthread_mutex_lock(&g_lock);
	session_t *s;
	tstate_t st;
	unsigned char mk[MK_LEN];
	int fd = -1;
	CK_RV rv = get_session(hSession, &s);
	if (rv != CKR_OK)
		goto out;
	if (!(s->flags & CKF_RW_SESSION)) {
		rv = CKR_SESSION_READ_ONLY;
		goto out;
	}
	if (pOldPin == NULL || pNewPin == NULL) {
		rv = CKR_ARGUMENTS_BAD;
		goto out;
	}
	if (!pin_len_ok(ulNewLen)) {
		rv = CKR_PIN_LEN_RANGE;
		goto out;
	}
	CK_USER_TYPE who = s->slot->login == CKU_SO ? CKU_SO : CKU_USER;
	fd = store_lock(s->slot->dir);
	if (fd < 0 || store_read_state(s->slot->dir, &st) || !st.initialized) {
		rv = CKR_DEVICE_ERROR;
		goto out;
	}
	rv = pin_verify(s->slot->dir, &st, who, pOldPin, ulOldLen, mk);
	if (rv == CKR_OK)
		rv = wrap_mk(&st, who, pNewPin, ulNewLen, mk);
	secure_zero(mk, sizeof(mk));
	if (rv == CKR_OK && store_write_state(s->slot->dir, &st))
		rv = CKR_DEVICE_ERROR;
out:
	store_unlock(fd);
	pthread_mutex_unlock(&g_lock);
	return rv;
}

/* ---------- sessions ---------- */

CK_RV C_OpenSession(CK_SLOT_ID slotID, CK_FLAGS flags, CK_VOID_PTR pApplication, CK_NOTIFY Notify, CK_SESSION_HANDLE_PTR phSession)
{
	(void)pApplication;
	(void)Notify;
	if (phSession == NULL)
		return CKR_ARGUMENTS_BAD;
	if (!(flags & CKF_SERIAL_SESSION))
		return CKR_SESSION_PARALLEL_NOT_SUPPORTED;
	pthread_mutex_lock(&g_lock);
	slot_t *sl;
	tstate_t st;
	CK_RV rv = get_slot(slotID, &sl, 1);
	if (rv != CKR_OK)
		goto out;
	if (sl->dir == NULL || store_read_state(sl->dir, &st) || !st.initialized) {
		rv = CKR_TOKEN_NOT_RECOGNIZED;
		goto out;
	}
	if (!(flags & CKF_RW_SESSION) && sl->login == CKU_SO) {
		rv = CKR_SESSION_READ_WRITE_SO_EXISTS;
		goto out;
	}
	if ((rv = token_open(sl)) != CKR_OK)
		goto out;
	session_t *s = calloc(1, sizeof(*s));
	if (s == NULL) {
		rv = CKR_HOST_MEMORY;
		goto out;
	}
	s->h = g_next_handle++;
	s->slot = sl;
	s->flags = flags & (CKF_SERIAL_SESSION | CKF_RW_SESSION);
	s->next = g_sessions;
	g_sessions = s;
	slot_sync(sl);
	*phSession = s->h;
out:
	pthread_mutex_unlock(&g_lock);
	return rv;
}

CK_RV C_CloseSession(CK_SESSION_HANDLE hSession)
{
	pthread_mutex_lock(&g_lock);
	CK_RV rv = CKR_OK;
	session_t *s = g_inited ? session_find(hSession) : NULL;
	if (!g_inited)
		rv = CKR_CRYPTOKI_NOT_INITIALIZED;
	else if (s == NULL)
		rv = CKR_SESSION_HANDLE_INVALID;
	else
		session_close(s);
	pthread_mutex_unlock(&g_lock);
	return rv;
}

CK_RV C_CloseAllSessions(CK_SLOT_ID slotID)
{
	pthread_mutex_lock(&g_lock);
	slot_t *sl;
	CK_RV rv = get_slot(slotID, &sl, 0);
	if (rv == CKR_OK) {
		session_t *s = g_sessions;
		while (s != NULL) {
			session_t *next = s->next;
			if (s->slot == sl)
				session_close(s);
			s = next;
		}
	}
	pthread_mutex_unlock(&g_lock);
	return rv;
}

CK_RV C_GetSessionInfo(CK_SESSION_HANDLE hSession, CK_SESSION_INFO_PTR pInfo)
{
	if (pInfo == NULL)
		return CKR_ARGUMENTS_BAD;
	pthread_mutex_lock(&g_lock);
	session_t *s;
	CK_RV rv = get_session(hSession, &s);
	if (rv == CKR_OK) {
		int rw = (s->flags & CKF_RW_SESSION) != 0;
		pInfo->slotID = s->slot->id;
		pInfo->flags = s->flags;
		pInfo->ulDeviceError = 0;
		if (s->slot->login == CKU_SO)
			pInfo->state = CKS_RW_SO_FUNCTIONS;
		else if (s->slot->login == CKU_USER)
			pInfo->state = rw ? CKS_RW_USER_FUNCTIONS : CKS_RO_USER_FUNCTIONS;
		else
			pInfo->state = rw ? CKS_RW_PUBLIC_SESSION : CKS_RO_PUBLIC_SESSION;
	}
	pthread_mutex_unlock(&g_lock);
	return rv;
}

/* login_check finds the session and checks that userType may log in to
 * its slot now; C_Login runs it again after the KDF, when the module's
 * state may have changed under it. */
static CK_RV login_check(CK_SESSION_HANDLE h, CK_USER_TYPE userType, session_t **out)
{
	session_t *s;
	CK_RV rv = get_session(h, &s);
	if (rv != CKR_OK)
		return rv;
	slot_t *sl = s->slot;
	if (userType != CKU_SO && userType != CKU_USER)
		return userType == CKU_CONTEXT_SPECIFIC ? CKR_OPERATION_NOT_INITIALIZED : CKR_USER_TYPE_INVALID;
	if (sl->login == userType)
		return CKR_USER_ALREADY_LOGGED_IN;
	if (sl->login != NO_USER)
		return CKR_USER_ANOTHER_ALREADY_LOGGED_IN;
	if (userType == CKU_SO && slot_sessions(sl, 1) > 0)
		return CKR_SESSION_READ_ONLY_EXISTS;
	*out = s;
	return CKR_OK;
}

/* C_Login counts the attempt on disk (locked), derives the PIN's key with
 * neither the module's mutex nor the token's .lock held, so that other
 * sessions and tokens are not held up for the KDF's ≈200 ms, then (locked
 * again) checks that the login still makes sense and records the success.
 * Logins to one token still take turns, across threads and processes, on
 * its .login file lock: otherwise attempts in flight would add up and a
 * correct PIN could meet CKR_PIN_LOCKED. .login is only ever awaited with
 * the mutex released, so lock order is .login, mutex, .lock. g_waiters
 * keeps C_Finalize from freeing the slot meanwhile. */
CK_RV C_Login(CK_SESSION_HANDLE hSession, CK_USER_TYPE userType, CK_UTF8CHAR_PTR pPin, CK_ULONG ulPinLen)
{
	pthread_mutex_lock(&g_lock);
	session_t *s;
	tstate_t st, cur, next;
	unsigned char mk[MK_LEN];
	int fd = -1, lfd = -1, rewrapped = 0, waiting = 0;
	memset(&st, 0, sizeof(st));
	memset(&next, 0, sizeof(next));
	memset(&cur, 0, sizeof(cur));
	CK_RV rv = login_check(hSession, userType, &s);
	if (rv == CKR_OK && pPin == NULL)
		rv = CKR_ARGUMENTS_BAD;
	if (rv != CKR_OK)
		goto out;
	/* A slot's directory is set once and freed only by C_Finalize. */
	const char *dir = s->slot->dir;
	g_waiters++;
	waiting = 1;
	pthread_mutex_unlock(&g_lock);
	lfd = store_login_lock(dir);
	pthread_mutex_lock(&g_lock);
	if (lfd < 0) {
		rv = CKR_DEVICE_ERROR;
		goto out;
	}
	if ((rv = login_check(hSession, userType, &s)) != CKR_OK)
		goto out;
	fd = store_lock(dir);
	if (fd < 0 || store_read_state(dir, &st) || !st.initialized) {
		rv = CKR_DEVICE_ERROR;
		goto out;
	}
	rv = pin_try_begin(dir, &st, userType, pPin, ulPinLen);
	store_unlock(fd);
	fd = -1;
	if (rv != CKR_OK)
		goto out;

	pthread_mutex_unlock(&g_lock);
	int ok = pin_open(&st, userType, pPin, ulPinLen, mk, &next, &rewrapped) == 0;
	pthread_mutex_lock(&g_lock);
	if (!ok) {
		rv = CKR_PIN_INCORRECT;
		goto out;
	}
	if ((rv = login_check(hSession, userType, &s)) != CKR_OK)
		goto out;
	fd = store_lock(dir);
	if (fd < 0 || store_read_state(dir, &cur) || !cur.initialized) {
		rv = CKR_DEVICE_ERROR;
		goto out;
	}
	if (!same_copy(&st, &cur, userType)) {
		/* The copy changed meanwhile (a module from before .login logged
		 * in and re-wrapped it, or the PIN was changed): try the PIN on
		 * the current one, locked, on this rare path. */
		rewrapped = 0;
		if (pin_open(&cur, userType, pPin, ulPinLen, mk, NULL, NULL)) {
			rv = CKR_PIN_INCORRECT;
			goto out;
		}
	}
	if ((rv = pin_try_end(dir, &cur, userType, rewrapped ? &next : NULL)) != CKR_OK)
		goto out;
	slot_t *sl = s->slot;
	memcpy(sl->mk, mk, MK_LEN);
	sl->mk_ok = 1;
	sl->login = userType;
	if (userType == CKU_USER)
		slot_sync(sl);
out:
	store_unlock(fd);
	if (waiting) {
		g_waiters--;
		pthread_cond_broadcast(&g_cond);
	}
	pthread_mutex_unlock(&g_lock);
	store_unlock(lfd);
	secure_zero(mk, sizeof(mk));
	secure_zero(&next, sizeof(next));
	secure_zero(&cur, sizeof(cur));
	return rv;
}

CK_RV C_Logout(CK_SESSION_HANDLE hSession)
{
	pthread_mutex_lock(&g_lock);
	session_t *s;
	CK_RV rv = get_session(hSession, &s);
	if (rv == CKR_OK) {
		if (s->slot->login == NO_USER)
			rv = CKR_USER_NOT_LOGGED_IN;
		else {
			for (session_t *o = g_sessions; o != NULL; o = o->next) {
				if (o->slot == s->slot) {
					op_end(&o->sign);
					find_end(o);
				}
			}
			slot_logout(s->slot);
		}
	}
	pthread_mutex_unlock(&g_lock);
	return rv;
}

/* ---------- objects ---------- */

static const CK_ATTRIBUTE_TYPE ro_create[] = {
	CKA_LOCAL, CKA_KEY_GEN_MECHANISM, CKA_ALWAYS_SENSITIVE, CKA_NEVER_EXTRACTABLE,
};

CK_RV C_CreateObject(CK_SESSION_HANDLE hSession, CK_ATTRIBUTE_PTR pTemplate, CK_ULONG ulCount, CK_OBJECT_HANDLE_PTR phObject)
{
	if (phObject == NULL || (pTemplate == NULL && ulCount > 0))
		return CKR_ARGUMENTS_BAD;
	pthread_mutex_lock(&g_lock);
	session_t *s;
	attrs_t as = {0};
	CK_RV rv = get_session(hSession, &s);
	if (rv != CKR_OK)
		goto out;
	const CK_ATTRIBUTE *c = tpl_get(pTemplate, ulCount, CKA_CLASS);
	if (c == NULL) {
		rv = CKR_TEMPLATE_INCOMPLETE;
		goto out;
	}
	if (c->pValue == NULL || c->ulValueLen != sizeof(CK_OBJECT_CLASS)) {
		rv = CKR_ATTRIBUTE_VALUE_INVALID;
		goto out;
	}
	CK_OBJECT_CLASS cls = *(CK_OBJECT_CLASS *)c->pValue;
	if (cls != CKO_DATA && cls != CKO_CERTIFICATE && cls != CKO_PUBLIC_KEY && cls != CKO_PRIVATE_KEY) {
		rv = CKR_ATTRIBUTE_VALUE_INVALID;
		goto out;
	}
	if ((rv = set_common_defaults(&as, cls)) != CKR_OK ||
	    (rv = tpl_merge(&as, pTemplate, ulCount, ro_create, sizeof(ro_create) / sizeof(ro_create[0]))) != CKR_OK)
		goto out;
	if (cls == CKO_CERTIFICATE) {
		if (attrs_ulong(&as, CKA_CERTIFICATE_TYPE, CK_UNAVAILABLE_INFORMATION) != CKC_X_509) {
			rv = attrs_find(&as, CKA_CERTIFICATE_TYPE) == NULL ? CKR_TEMPLATE_INCOMPLETE : CKR_ATTRIBUTE_VALUE_INVALID;
			goto out;
		}
		if (attrs_find(&as, CKA_VALUE) == NULL) {
			rv = CKR_TEMPLATE_INCOMPLETE;
			goto out;
		}
	}
	if (cls == CKO_PUBLIC_KEY || cls == CKO_PRIVATE_KEY) {
		const paramset_t *ps = NULL;
		const eccurve_t *ec = NULL;
		if (attrs_find(&as, CKA_KEY_TYPE) == NULL) {
			rv = CKR_TEMPLATE_INCOMPLETE;
			goto out;
		}
		int isec = attrs_ulong(&as, CKA_KEY_TYPE, 0) == CKK_EC;
		if ((rv = isec ? ec_key_params(&as, &ec) : key_params(&as, &ps)) != CKR_OK)
			goto out;
		attr_t *v = attrs_find(&as, isec && cls == CKO_PUBLIC_KEY ? CKA_EC_POINT : CKA_VALUE);
		if (v == NULL) {
			rv = CKR_TEMPLATE_INCOMPLETE;
			goto out;
		}
		/* Build the key once to refuse a value off the curve or out of range. */
		object_t probe = {.attrs = as};
		EVP_PKEY *k = key_load(&probe, ec, ps, cls == CKO_PRIVATE_KEY);
		if (k == NULL) {
			rv = CKR_ATTRIBUTE_VALUE_INVALID;
			goto out;
		}
		EVP_PKEY_free(k);
		if (!isec && attrs_find(&as, CKA_GOSTR3411_PARAMS) == NULL &&
		    attrs_set(&as, CKA_GOSTR3411_PARAMS, ps->bits == 512 ? OID_STREEBOG512 : OID_STREEBOG256, sizeof(OID_STREEBOG256))) {
			rv = CKR_HOST_MEMORY;
			goto out;
		}
		if (cls == CKO_PRIVATE_KEY) {
			if (!attrs_bool(&as, CKA_SENSITIVE, CK_TRUE) || attrs_bool(&as, CKA_EXTRACTABLE, CK_FALSE)) {
				rv = CKR_TEMPLATE_INCONSISTENT;
				goto out;
			}
			if (s->slot->login != CKU_USER) {
				rv = CKR_USER_NOT_LOGGED_IN;
				goto out;
			}
		}
	}
	if ((rv = check_create_rights(s, &as)) != CKR_OK)
		goto out;
	rv = obj_insert(s, &as, phObject);
out:
	attrs_free(&as);
	pthread_mutex_unlock(&g_lock);
	return rv;
}

CK_RV C_DestroyObject(CK_SESSION_HANDLE hSession, CK_OBJECT_HANDLE hObject)
{
	pthread_mutex_lock(&g_lock);
	session_t *s;
	CK_RV rv = get_session(hSession, &s);
	if (rv != CKR_OK)
		goto out;
	object_t *o = obj_find(s, hObject);
	if (o == NULL)
		rv = CKR_OBJECT_HANDLE_INVALID;
	else if (o->token && !(s->flags & CKF_RW_SESSION))
		rv = CKR_SESSION_READ_ONLY;
	else if (!attrs_bool(&o->attrs, CKA_DESTROYABLE, CK_TRUE))
		rv = CKR_ACTION_PROHIBITED;
	else
		obj_unlink(s->slot, o);
out:
	pthread_mutex_unlock(&g_lock);
	return rv;
}

static int attr_sensitive(const object_t *o, CK_ATTRIBUTE_TYPE type)
{
	CK_ULONG cls = attrs_ulong(&o->attrs, CKA_CLASS, CKO_DATA);
	return is_secret(cls, type) &&
	       (attrs_bool(&o->attrs, CKA_SENSITIVE, CK_TRUE) || !attrs_bool(&o->attrs, CKA_EXTRACTABLE, CK_FALSE));
}

CK_RV C_GetAttributeValue(CK_SESSION_HANDLE hSession, CK_OBJECT_HANDLE hObject, CK_ATTRIBUTE_PTR pTemplate, CK_ULONG ulCount)
{
	if (pTemplate == NULL && ulCount > 0)
		return CKR_ARGUMENTS_BAD;
	pthread_mutex_lock(&g_lock);
	session_t *s;
	CK_RV rv = get_session(hSession, &s);
	if (rv != CKR_OK)
		goto out;
	object_t *o = obj_find(s, hObject);
	if (o == NULL) {
		rv = CKR_OBJECT_HANDLE_INVALID;
		goto out;
	}
	for (CK_ULONG i = 0; i < ulCount; i++) {
		CK_ATTRIBUTE *t = &pTemplate[i];
		if (attr_sensitive(o, t->type)) {
			t->ulValueLen = CK_UNAVAILABLE_INFORMATION;
			rv = CKR_ATTRIBUTE_SENSITIVE;
			continue;
		}
		attr_t *a = attrs_find(&o->attrs, t->type);
		if (a == NULL) {
			t->ulValueLen = CK_UNAVAILABLE_INFORMATION;
			rv = CKR_ATTRIBUTE_TYPE_INVALID;
			continue;
		}
		if (t->pValue == NULL)
			t->ulValueLen = a->len;
		else if (t->ulValueLen < a->len) {
			t->ulValueLen = CK_UNAVAILABLE_INFORMATION;
			rv = CKR_BUFFER_TOO_SMALL;
		} else {
			memcpy(t->pValue, a->val, a->len);
			t->ulValueLen = a->len;
		}
	}
out:
	pthread_mutex_unlock(&g_lock);
	return rv;
}

CK_RV C_SetAttributeValue(CK_SESSION_HANDLE hSession, CK_OBJECT_HANDLE hObject, CK_ATTRIBUTE_PTR pTemplate, CK_ULONG ulCount)
{
	static const CK_ATTRIBUTE_TYPE ro[] = {
		CKA_CLASS, CKA_TOKEN, CKA_PRIVATE, CKA_KEY_TYPE, CKA_LOCAL, CKA_KEY_GEN_MECHANISM,
		CKA_ALWAYS_SENSITIVE, CKA_NEVER_EXTRACTABLE, CKA_GOSTR3410_PARAMS, CKA_GOSTR3411_PARAMS,
		CKA_EC_PARAMS, CKA_EC_POINT, CKA_CERTIFICATE_TYPE, CKA_MODIFIABLE, CKA_COPYABLE, CKA_DESTROYABLE,
	};
	if (pTemplate == NULL && ulCount > 0)
		return CKR_ARGUMENTS_BAD;
	pthread_mutex_lock(&g_lock);
	session_t *s;
	attrs_t as = {0};
	CK_RV rv = get_session(hSession, &s);
	if (rv != CKR_OK)
		goto out;
	object_t *o = obj_find(s, hObject);
	if (o == NULL) {
		rv = CKR_OBJECT_HANDLE_INVALID;
		goto out;
	}
	if (o->token && !(s->flags & CKF_RW_SESSION)) {
		rv = CKR_SESSION_READ_ONLY;
		goto out;
	}
	if (!attrs_bool(&o->attrs, CKA_MODIFIABLE, CK_TRUE)) {
		rv = CKR_ACTION_PROHIBITED;
		goto out;
	}
	CK_ULONG cls = attrs_ulong(&o->attrs, CKA_CLASS, CKO_DATA);
	for (CK_ULONG i = 0; i < ulCount; i++) {
		CK_ATTRIBUTE_TYPE t = pTemplate[i].type;
		if ((cls == CKO_PUBLIC_KEY || cls == CKO_PRIVATE_KEY || cls == CKO_CERTIFICATE) && t == CKA_VALUE) {
			rv = CKR_ATTRIBUTE_READ_ONLY;
			goto out;
		}
		if (pTemplate[i].pValue != NULL && pTemplate[i].ulValueLen == 1 &&
		    ((t == CKA_SENSITIVE && !*(CK_BBOOL *)pTemplate[i].pValue) ||
		     (t == CKA_EXTRACTABLE && *(CK_BBOOL *)pTemplate[i].pValue))) {
			rv = CKR_ATTRIBUTE_READ_ONLY;
			goto out;
		}
	}
	if ((rv = attrs_copy(&as, &o->attrs) ? CKR_HOST_MEMORY : CKR_OK) != CKR_OK ||
	    (rv = tpl_merge(&as, pTemplate, ulCount, ro, sizeof(ro) / sizeof(ro[0]))) != CKR_OK)
		goto out;
	attrs_t old = o->attrs;
	o->attrs = as;
	if (o->token && (rv = obj_save_locked(s->slot, o)) != CKR_OK) {
		o->attrs = old;
		goto out;
	}
	as = old;
out:
	attrs_free(&as);
	pthread_mutex_unlock(&g_lock);
	return rv;
}

CK_RV C_FindObjectsInit(CK_SESSION_HANDLE hSession, CK_ATTRIBUTE_PTR pTemplate, CK_ULONG ulCount)
{
	if (pTemplate == NULL && ulCount > 0)
		return CKR_ARGUMENTS_BAD;
	pthread_mutex_lock(&g_lock);
	session_t *s;
	CK_RV rv = get_session(hSession, &s);
	if (rv != CKR_OK)
		goto out;
	if (s->finding) {
		rv = CKR_OPERATION_ACTIVE;
		goto out;
	}
	slot_sync(s->slot);
	for (object_t *o = s->slot->objs; o != NULL; o = o->next) {
		if (!obj_visible(s, o))
			continue;
		int match = 1;
		for (CK_ULONG i = 0; i < ulCount && match; i++) {
			attr_t *a = attrs_find(&o->attrs, pTemplate[i].type);
			match = a != NULL && !attr_sensitive(o, a->type) && a->len == pTemplate[i].ulValueLen &&
				(a->len == 0 || (pTemplate[i].pValue != NULL && memcmp(a->val, pTemplate[i].pValue, a->len) == 0));
		}
		if (!match)
			continue;
		CK_OBJECT_HANDLE *nf = realloc(s->found, (s->nfound + 1) * sizeof(*nf));
		if (nf == NULL) {
			find_end(s);
			rv = CKR_HOST_MEMORY;
			goto out;
		}
		s->found = nf;
		s->found[s->nfound++] = o->h;
	}
	s->finding = 1;
	s->pos = 0;
out:
	pthread_mutex_unlock(&g_lock);
	return rv;
}

CK_RV C_FindObjects(CK_SESSION_HANDLE hSession, CK_OBJECT_HANDLE_PTR phObject, CK_ULONG ulMaxObjectCount, CK_ULONG_PTR pulObjectCount)
{
	if (phObject == NULL || pulObjectCount == NULL)
		return CKR_ARGUMENTS_BAD;
	pthread_mutex_lock(&g_lock);
	session_t *s;
	CK_RV rv = get_session(hSession, &s);
	if (rv == CKR_OK && !s->finding)
		rv = CKR_OPERATION_NOT_INITIALIZED;
	if (rv == CKR_OK) {
		CK_ULONG n = 0;
		while (n < ulMaxObjectCount && s->pos < s->nfound)
			phObject[n++] = s->found[s->pos++];
		*pulObjectCount = n;
	}
	pthread_mutex_unlock(&g_lock);
	return rv;
}

CK_RV C_FindObjectsFinal(CK_SESSION_HANDLE hSession)
{
	pthread_mutex_lock(&g_lock);
	session_t *s;
	CK_RV rv = get_session(hSession, &s);
	if (rv == CKR_OK && !s->finding)
		rv = CKR_OPERATION_NOT_INITIALIZED;
	if (rv == CKR_OK)
		find_end(s);
	pthread_mutex_unlock(&g_lock);
	return rv;
}

/* ---------- key generation ---------- */

static CK_RV keygen_template(attrs_t *as, CK_OBJECT_CLASS cls, CK_KEY_TYPE kt, CK_MECHANISM_TYPE mech, const CK_ATTRIBUTE *t, CK_ULONG n)
{
	static const CK_ATTRIBUTE_TYPE ro[] = {
		CKA_LOCAL, CKA_KEY_GEN_MECHANISM, CKA_ALWAYS_SENSITIVE, CKA_NEVER_EXTRACTABLE, CKA_VALUE,
	};
	CK_RV rv = set_common_defaults(as, cls);
	if (rv == CKR_OK)
		rv = tpl_merge(as, t, n, ro, sizeof(ro) / sizeof(ro[0]));
	if (rv != CKR_OK)
		return rv;
	if (attrs_ulong(as, CKA_CLASS, cls) != cls)
		return CKR_TEMPLATE_INCONSISTENT;
	attr_t *k = attrs_find(as, CKA_KEY_TYPE);
	if (k != NULL && attrs_ulong(as, CKA_KEY_TYPE, kt) != kt)
		return CKR_TEMPLATE_INCONSISTENT;
	if (attrs_set_ulong(as, CKA_KEY_TYPE, kt) || attrs_set_bool(as, CKA_LOCAL, CK_TRUE) ||
	    attrs_set_ulong(as, CKA_KEY_GEN_MECHANISM, mech))
		return CKR_HOST_MEMORY;
	if (cls == CKO_PRIVATE_KEY) {
		if (!attrs_bool(as, CKA_SENSITIVE, CK_TRUE) || attrs_bool(as, CKA_EXTRACTABLE, CK_FALSE))
			return CKR_TEMPLATE_INCONSISTENT;
		if (attrs_set_bool(as, CKA_ALWAYS_SENSITIVE, CK_TRUE) || attrs_set_bool(as, CKA_NEVER_EXTRACTABLE, CK_TRUE))
			return CKR_HOST_MEMORY;
	}
	return CKR_OK;
}

CK_RV C_GenerateKeyPair(CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism,
			CK_ATTRIBUTE_PTR pPublicKeyTemplate, CK_ULONG ulPublicKeyAttributeCount,
			CK_ATTRIBUTE_PTR pPrivateKeyTemplate, CK_ULONG ulPrivateKeyAttributeCount,
			CK_OBJECT_HANDLE_PTR phPublicKey, CK_OBJECT_HANDLE_PTR phPrivateKey)
{
	if (pMechanism == NULL || phPublicKey == NULL || phPrivateKey == NULL)
		return CKR_ARGUMENTS_BAD;
	pthread_mutex_lock(&g_lock);
	session_t *s;
	attrs_t pub = {0}, priv = {0};
	object_t *po = NULL, *ko = NULL;
	unsigned char d[66], q[1 + 2 * 66];
	CK_RV rv = get_session(hSession, &s);
	if (rv != CKR_OK)
		goto out;
	CK_MECHANISM_TYPE mech = pMechanism->mechanism;
	CK_KEY_TYPE kt;
	if (mech == CKM_GOSTR3410_KEY_PAIR_GEN)
		kt = CKK_GOSTR3410;
	else if (mech == CKM_GOSTR3410_512_KEY_PAIR_GEN)
		kt = CKK_GOSTR3410_512;
	else if (mech == CKM_EC_KEY_PAIR_GEN)
		kt = CKK_EC;
	else {
		rv = CKR_MECHANISM_INVALID;
		goto out;
	}
	if ((rv = keygen_template(&pub, CKO_PUBLIC_KEY, kt, mech, pPublicKeyTemplate, ulPublicKeyAttributeCount)) != CKR_OK ||
	    (rv = keygen_template(&priv, CKO_PRIVATE_KEY, kt, mech, pPrivateKeyTemplate, ulPrivateKeyAttributeCount)) != CKR_OK)
		goto out;
	/* The domain parameters may be named in either template. */
	static const CK_ATTRIBUTE_TYPE shared[] = {CKA_GOSTR3410_PARAMS, CKA_GOSTR3411_PARAMS, CKA_EC_PARAMS};
	for (size_t i = 0; i < sizeof(shared) / sizeof(shared[0]); i++) {
		CK_ATTRIBUTE_TYPE t = shared[i];
		attr_t *a = attrs_find(&pub, t), *b = attrs_find(&priv, t);
		if (a != NULL && b != NULL && (a->len != b->len || memcmp(a->val, b->val, a->len) != 0)) {
			rv = CKR_TEMPLATE_INCONSISTENT;
			goto out;
		}
		if (a == NULL && b != NULL && attrs_set(&pub, t, b->val, b->len))
			rv = CKR_HOST_MEMORY;
		if (b == NULL && a != NULL && attrs_set(&priv, t, a->val, a->len))
			rv = CKR_HOST_MEMORY;
	}
	const paramset_t *ps = NULL;
	const eccurve_t *ec = NULL;
	if (rv != CKR_OK || (rv = kt == CKK_EC ? ec_key_params(&pub, &ec) : key_params(&pub, &ps)) != CKR_OK)
		goto out;
	if (ps != NULL && attrs_find(&pub, CKA_GOSTR3411_PARAMS) == NULL) {
		const unsigned char *h = ps->bits == 512 ? OID_STREEBOG512 : OID_STREEBOG256;
		if (attrs_set(&pub, CKA_GOSTR3411_PARAMS, h, sizeof(OID_STREEBOG256)) ||
		    attrs_set(&priv, CKA_GOSTR3411_PARAMS, h, sizeof(OID_STREEBOG256))) {
			rv = CKR_HOST_MEMORY;
			goto out;
		}
	}
	if ((rv = check_create_rights(s, &pub)) != CKR_OK || (rv = check_create_rights(s, &priv)) != CKR_OK)
		goto out;
	if (s->slot->login != CKU_USER) {
		rv = CKR_USER_NOT_LOGGED_IN;
		goto out;
	}
	size_t size = ec != NULL ? ec->size : (size_t)ps->bits / 8;
	if (ec != NULL ? ec_keygen(ec, d, q) : gost_keygen(ps, d, q)) {
		rv = CKR_FUNCTION_FAILED;
		goto out;
	}
	if ((ec != NULL ? ec_point_der(&pub, q, 1 + 2 * size) : attrs_set(&pub, CKA_VALUE, q, 2 * size)) ||
	    attrs_set(&priv, CKA_VALUE, d, size)) {
		rv = CKR_HOST_MEMORY;
		goto out;
	}
	po = obj_new(s, &pub);
	ko = obj_new(s, &priv);
	if (po == NULL || ko == NULL) {
		rv = CKR_HOST_MEMORY;
		goto out;
	}
	if ((rv = pair_save(s->slot, po, ko)) != CKR_OK)
		goto out;
	*phPublicKey = obj_add(s->slot, po);
	*phPrivateKey = obj_add(s->slot, ko);
	po = ko = NULL;
out:
	if (po != NULL)
		obj_free(po);
	if (ko != NULL)
		obj_free(ko);
	secure_zero(d, sizeof(d));
	attrs_free(&pub);
	attrs_free(&priv);
	pthread_mutex_unlock(&g_lock);
	return rv;
}

/* ---------- signatures ---------- */

/* A signature mechanism: the key type it takes and the hash it applies to
 * the data itself (none: the data is the digest). */
enum { H_NONE, H_STREEBOG256, H_STREEBOG512, H_SHA256, H_SHA384, H_SHA512 };

typedef struct {
	CK_MECHANISM_TYPE mech;
	CK_KEY_TYPE kt;
	int hash;
} sigmech_t;

static const sigmech_t sigmechs[] = {
	{CKM_GOSTR3410, CKK_GOSTR3410, H_NONE},
	{CKM_GOSTR3410_512, CKK_GOSTR3410_512, H_NONE},
	{CKM_GOSTR3410_WITH_GOSTR3411_12_256, CKK_GOSTR3410, H_STREEBOG256},
	{CKM_GOSTR3410_WITH_GOSTR3411_12_512, CKK_GOSTR3410_512, H_STREEBOG512},
	{CKM_ECDSA, CKK_EC, H_NONE},
	{CKM_ECDSA_SHA256, CKK_EC, H_SHA256},
	{CKM_ECDSA_SHA384, CKK_EC, H_SHA384},
	{CKM_ECDSA_SHA512, CKK_EC, H_SHA512},
};

static EVP_MD_CTX *hash_new(int hash)
{
	switch (hash) {
	case H_STREEBOG256:
		return gost_digest_new(256);
	case H_STREEBOG512:
		return gost_digest_new(512);
	case H_SHA256:
		return sha_new(256);
	case H_SHA384:
		return sha_new(384);
	case H_SHA512:
		return sha_new(512);
	}
	return NULL;
}

static CK_RV op_init(session_t *s, op_t *op, CK_MECHANISM_PTR m, CK_OBJECT_HANDLE hKey, int signing)
{
	if (m == NULL)
		return CKR_ARGUMENTS_BAD;
	if (op->active)
		return CKR_OPERATION_ACTIVE;
	const sigmech_t *sm = NULL;
	for (size_t i = 0; i < sizeof(sigmechs) / sizeof(sigmechs[0]); i++)
		if (sigmechs[i].mech == m->mechanism)
			sm = &sigmechs[i];
	if (sm == NULL)
		return CKR_MECHANISM_INVALID;
	object_t *o = obj_find(s, hKey);
	if (o == NULL)
		return CKR_KEY_HANDLE_INVALID;
	CK_ULONG cls = attrs_ulong(&o->attrs, CKA_CLASS, CKO_DATA);
	CK_ULONG kt = attrs_ulong(&o->attrs, CKA_KEY_TYPE, CK_UNAVAILABLE_INFORMATION);
	if (cls != (signing ? CKO_PRIVATE_KEY : CKO_PUBLIC_KEY) || kt != sm->kt)
		return CKR_KEY_TYPE_INCONSISTENT;
	if (!attrs_bool(&o->attrs, signing ? CKA_SIGN : CKA_VERIFY, CK_FALSE))
		return CKR_KEY_FUNCTION_NOT_PERMITTED;
	if (signing && !o->secret_loaded)
		return CKR_USER_NOT_LOGGED_IN;
	const eccurve_t *ec;
	const paramset_t *ps;
	size_t size;
	CK_RV rv = key_shape(o, &ec, &ps, &size);
	if (rv != CKR_OK)
		return rv;
	if (o->pk == NULL && (o->pk = key_load(o, ec, ps, signing)) == NULL)
		return CKR_FUNCTION_FAILED;
	if (!EVP_PKEY_up_ref(o->pk))
		return CKR_FUNCTION_FAILED;
	op->key = o->pk;
	if (sm->hash != H_NONE && (op->md = hash_new(sm->hash)) == NULL) {
		op_end(op);
		return CKR_FUNCTION_FAILED;
	}
	op->kt = kt;
	op->size = size;
	op->active = 1;
	return CKR_OK;
}

/* op_digest turns the data of a signature operation into the digest that is
 * signed: the data itself for the raw mechanisms (exactly the hash size
 * for GOST; any hash up to 64 bytes for ECDSA), the hash otherwise. */
static CK_RV op_digest(op_t *op, const unsigned char *data, CK_ULONG len, int final, unsigned char *dg, size_t *dlen)
{
	if (op->md == NULL) {
		if (data == NULL || (op->kt == CKK_EC ? len == 0 || len > 64 : len != op->size))
			return CKR_DATA_LEN_RANGE;
		memcpy(dg, data, len);
		*dlen = len;
		return CKR_OK;
	}
	unsigned int n;
	if ((!final && len > 0 && !EVP_DigestUpdate(op->md, data, len)) || !EVP_DigestFinal_ex(op->md, dg, &n))
		return CKR_FUNCTION_FAILED;
	*dlen = n;
	return CKR_OK;
}

/* op_single checks that a single-part call (C_Sign, C_Verify, C_Digest)
 * may run: an operation that C_*Update already fed cannot be finished by
 * it, and ends. */
static CK_RV op_single(op_t *op, const void *data, CK_ULONG len)
{
	if (!op->active)
		return CKR_OPERATION_NOT_INITIALIZED;
	if (op->updated || (data == NULL && len > 0)) {
		CK_RV rv = op->updated ? CKR_OPERATION_ACTIVE : CKR_ARGUMENTS_BAD;
		op_end(op);
		return rv;
	}
	return CKR_OK;
}

/* op_update feeds a part to a hashing operation (C_SignUpdate,
 * C_VerifyUpdate, C_DigestUpdate); any failure ends the operation. */
static CK_RV op_update(op_t *op, const void *part, CK_ULONG len)
{
	CK_RV rv = CKR_OK;
	if (!op->active)
		return CKR_OPERATION_NOT_INITIALIZED;
	if (op->md == NULL)
		rv = CKR_FUNCTION_NOT_SUPPORTED; /* raw mechanisms are single-part */
	else if (part == NULL && len > 0)
		rv = CKR_ARGUMENTS_BAD;
	else if (len > 0 && !EVP_DigestUpdate(op->md, part, len))
		rv = CKR_FUNCTION_FAILED;
	if (rv != CKR_OK)
		op_end(op);
	else
		op->updated = 1;
	return rv;
}

/* op_final checks that C_SignFinal or C_VerifyFinal may run: only a
 * hashing mechanism is multi-part. */
static CK_RV op_final(op_t *op)
{
	if (!op->active)
		return CKR_OPERATION_NOT_INITIALIZED;
	if (op->md == NULL) {
		op_end(op);
		return CKR_FUNCTION_NOT_SUPPORTED;
	}
	return CKR_OK;
}

static CK_RV sign_out(session_t *s, const unsigned char *data, CK_ULONG len, int final, CK_BYTE_PTR sig, CK_ULONG_PTR siglen)
{
	op_t *op = &s->sign;
	CK_ULONG need = (CK_ULONG)(2 * op->size);
	if (siglen == NULL) {
		op_end(op);
		return CKR_ARGUMENTS_BAD;
	}
	if (sig == NULL) {
		*siglen = need;
		return CKR_OK;
	}
	if (*siglen < need) {
		*siglen = need;
		return CKR_BUFFER_TOO_SMALL;
	}
	unsigned char dg[64];
	size_t dlen, sl = need;
	CK_RV rv = op_digest(op, data, len, final, dg, &dlen);
	if (rv == CKR_OK && op->kt == CKK_EC)
		rv = ec_sign(op->key, op->size, dg, dlen, sig) ? CKR_FUNCTION_FAILED : CKR_OK;
	else if (rv == CKR_OK)
		rv = gost_sign(op->key, dg, dlen, sig, &sl) ? CKR_FUNCTION_FAILED : CKR_OK;
	if (rv == CKR_OK)
		*siglen = (CK_ULONG)sl;
	op_end(op);
	return rv;
}

CK_RV C_SignInit(CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism, CK_OBJECT_HANDLE hKey)
{
	pthread_mutex_lock(&g_lock);
	session_t *s;
	CK_RV rv = get_session(hSession, &s);
	if (rv == CKR_OK)
		rv = op_init(s, &s->sign, pMechanism, hKey, 1);
	pthread_mutex_unlock(&g_lock);
	return rv;
}

CK_RV C_Sign(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pData, CK_ULONG ulDataLen, CK_BYTE_PTR pSignature, CK_ULONG_PTR pulSignatureLen)
{
	pthread_mutex_lock(&g_lock);
	session_t *s;
	CK_RV rv = get_session(hSession, &s);
	if (rv == CKR_OK && (rv = op_single(&s->sign, pData, ulDataLen)) == CKR_OK)
		rv = sign_out(s, pData, ulDataLen, 0, pSignature, pulSignatureLen);
	pthread_mutex_unlock(&g_lock);
	return rv;
}

CK_RV C_SignUpdate(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pPart, CK_ULONG ulPartLen)
{
	pthread_mutex_lock(&g_lock);
	session_t *s;
	CK_RV rv = get_session(hSession, &s);
	if (rv == CKR_OK)
		rv = op_update(&s->sign, pPart, ulPartLen);
	pthread_mutex_unlock(&g_lock);
	return rv;
}

CK_RV C_SignFinal(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pSignature, CK_ULONG_PTR pulSignatureLen)
{
	pthread_mutex_lock(&g_lock);
	session_t *s;
	CK_RV rv = get_session(hSession, &s);
	if (rv == CKR_OK && (rv = op_final(&s->sign)) == CKR_OK)
		rv = sign_out(s, NULL, 0, 1, pSignature, pulSignatureLen);
	pthread_mutex_unlock(&g_lock);
	return rv;
}

static CK_RV verify_out(session_t *s, const unsigned char *data, CK_ULONG len, int final, CK_BYTE_PTR sig, CK_ULONG siglen)
{
	op_t *op = &s->verify;
	unsigned char dg[64];
	size_t dlen;
	CK_RV rv;
	if (sig == NULL)
		rv = CKR_ARGUMENTS_BAD;
	else if (siglen != (CK_ULONG)(2 * op->size))
		rv = CKR_SIGNATURE_LEN_RANGE;
	else if ((rv = op_digest(op, data, len, final, dg, &dlen)) == CKR_OK) {
		int bad = op->kt == CKK_EC ? ec_verify(op->key, op->size, dg, dlen, sig) : gost_verify(op->key, dg, dlen, sig, siglen);
		rv = bad ? CKR_SIGNATURE_INVALID : CKR_OK;
	}
	op_end(op);
	return rv;
}

CK_RV C_VerifyInit(CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism, CK_OBJECT_HANDLE hKey)
{
	pthread_mutex_lock(&g_lock);
	session_t *s;
	CK_RV rv = get_session(hSession, &s);
	if (rv == CKR_OK)
		rv = op_init(s, &s->verify, pMechanism, hKey, 0);
	pthread_mutex_unlock(&g_lock);
	return rv;
}

CK_RV C_Verify(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pData, CK_ULONG ulDataLen, CK_BYTE_PTR pSignature, CK_ULONG ulSignatureLen)
{
	pthread_mutex_lock(&g_lock);
	session_t *s;
	CK_RV rv = get_session(hSession, &s);
	if (rv == CKR_OK && (rv = op_single(&s->verify, pData, ulDataLen)) == CKR_OK)
		rv = verify_out(s, pData, ulDataLen, 0, pSignature, ulSignatureLen);
	pthread_mutex_unlock(&g_lock);
	return rv;
}

CK_RV C_VerifyUpdate(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pPart, CK_ULONG ulPartLen)
{
	pthread_mutex_lock(&g_lock);
	session_t *s;
	CK_RV rv = get_session(hSession, &s);
	if (rv == CKR_OK)
		rv = op_update(&s->verify, pPart, ulPartLen);
	pthread_mutex_unlock(&g_lock);
	return rv;
}

CK_RV C_VerifyFinal(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pSignature, CK_ULONG ulSignatureLen)
{
	pthread_mutex_lock(&g_lock);
	session_t *s;
	CK_RV rv = get_session(hSession, &s);
	if (rv == CKR_OK && (rv = op_final(&s->verify)) == CKR_OK)
		rv = verify_out(s, NULL, 0, 1, pSignature, ulSignatureLen);
	pthread_mutex_unlock(&g_lock);
	return rv;
}

/* ---------- digests and random ---------- */

CK_RV C_DigestInit(CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism)
{
	if (pMechanism == NULL)
		return CKR_ARGUMENTS_BAD;
	pthread_mutex_lock(&g_lock);
	session_t *s;
	CK_RV rv = get_session(hSession, &s);
	if (rv != CKR_OK)
		goto out;
	if (s->digest.active) {
		rv = CKR_OPERATION_ACTIVE;
		goto out;
	}
	int bits = pMechanism->mechanism == CKM_GOSTR3411_12_256 ? 256 : pMechanism->mechanism == CKM_GOSTR3411_12_512 ? 512 : 0;
	if (bits == 0) {
		rv = CKR_MECHANISM_INVALID;
		goto out;
	}
	s->digest.md = gost_digest_new(bits);
	if (s->digest.md == NULL) {
		rv = CKR_FUNCTION_FAILED;
		goto out;
	}
	s->digest.bits = bits;
	s->digest.active = 1;
out:
	pthread_mutex_unlock(&g_lock);
	return rv;
}

static CK_RV digest_out(op_t *op, CK_BYTE_PTR out, CK_ULONG_PTR outlen)
{
	CK_ULONG need = (CK_ULONG)op->bits / 8;
	if (outlen == NULL) {
		op_end(op);
		return CKR_ARGUMENTS_BAD;
	}
	if (out == NULL) {
		*outlen = need;
		return CKR_OK;
	}
	if (*outlen < need) {
		*outlen = need;
		return CKR_BUFFER_TOO_SMALL;
	}
	unsigned int n;
	CK_RV rv = EVP_DigestFinal_ex(op->md, out, &n) ? CKR_OK : CKR_FUNCTION_FAILED;
	*outlen = n;
	op_end(op);
	return rv;
}

CK_RV C_Digest(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pData, CK_ULONG ulDataLen, CK_BYTE_PTR pDigest, CK_ULONG_PTR pulDigestLen)
{
	pthread_mutex_lock(&g_lock);
	session_t *s;
	CK_RV rv = get_session(hSession, &s);
	if (rv == CKR_OK && (rv = op_single(&s->digest, pData, ulDataLen)) == CKR_OK) {
		/* Only a call that will produce the digest consumes the data. */
		if (pDigest != NULL && pulDigestLen != NULL && *pulDigestLen >= (CK_ULONG)s->digest.bits / 8 &&
		    ulDataLen > 0 && !EVP_DigestUpdate(s->digest.md, pData, ulDataLen)) {
			op_end(&s->digest);
			rv = CKR_FUNCTION_FAILED;
		} else
			rv = digest_out(&s->digest, pDigest, pulDigestLen);
	}
	pthread_mutex_unlock(&g_lock);
	return rv;
}

CK_RV C_DigestUpdate(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pPart, CK_ULONG ulPartLen)
{
	pthread_mutex_lock(&g_lock);
	session_t *s;
	CK_RV rv = get_session(hSession, &s);
	if (rv == CKR_OK)
		rv = op_update(&s->digest, pPart, ulPartLen);
	pthread_mutex_unlock(&g_lock);
	return rv;
}

CK_RV C_DigestFinal(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pDigest, CK_ULONG_PTR pulDigestLen)
{
	pthread_mutex_lock(&g_lock);
	session_t *s;
	CK_RV rv = get_session(hSession, &s);
	if (rv == CKR_OK && !s->digest.active)
		rv = CKR_OPERATION_NOT_INITIALIZED;
	else if (rv == CKR_OK)
		rv = digest_out(&s->digest, pDigest, pulDigestLen);
	pthread_mutex_unlock(&g_lock);
	return rv;
}

CK_RV C_SeedRandom(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pSeed, CK_ULONG ulSeedLen)
{
	if (pSeed == NULL && ulSeedLen > 0)
		return CKR_ARGUMENTS_BAD;
	pthread_mutex_lock(&g_lock);
	session_t *s;
	CK_RV rv = get_session(hSession, &s);
	if (rv == CKR_OK)
		random_seed(pSeed, ulSeedLen);
	pthread_mutex_unlock(&g_lock);
	return rv;
}

CK_RV C_GenerateRandom(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pRandomData, CK_ULONG ulRandomLen)
{
	if (pRandomData == NULL && ulRandomLen > 0)
		return CKR_ARGUMENTS_BAD;
	pthread_mutex_lock(&g_lock);
	session_t *s;
	CK_RV rv = get_session(hSession, &s);
	if (rv == CKR_OK && ulRandomLen > 0 && random_bytes(pRandomData, ulRandomLen))
		rv = CKR_FUNCTION_FAILED;
	pthread_mutex_unlock(&g_lock);
	return rv;
}

/* ---------- not supported ---------- */

#define UNSUPPORTED(name, args) \
	CK_RV name args { return CKR_FUNCTION_NOT_SUPPORTED; }

#define U __attribute__((unused))
UNSUPPORTED(C_GetOperationState, (CK_SESSION_HANDLE a U, CK_BYTE_PTR b U, CK_ULONG_PTR c U))
UNSUPPORTED(C_SetOperationState, (CK_SESSION_HANDLE a U, CK_BYTE_PTR b U, CK_ULONG c U, CK_OBJECT_HANDLE d U, CK_OBJECT_HANDLE e U))
UNSUPPORTED(C_CopyObject, (CK_SESSION_HANDLE a U, CK_OBJECT_HANDLE b U, CK_ATTRIBUTE_PTR c U, CK_ULONG d U, CK_OBJECT_HANDLE_PTR e U))
UNSUPPORTED(C_GetObjectSize, (CK_SESSION_HANDLE a U, CK_OBJECT_HANDLE b U, CK_ULONG_PTR c U))
UNSUPPORTED(C_EncryptInit, (CK_SESSION_HANDLE a U, CK_MECHANISM_PTR b U, CK_OBJECT_HANDLE c U))
UNSUPPORTED(C_Encrypt, (CK_SESSION_HANDLE a U, CK_BYTE_PTR b U, CK_ULONG c U, CK_BYTE_PTR d U, CK_ULONG_PTR e U))
UNSUPPORTED(C_EncryptUpdate, (CK_SESSION_HANDLE a U, CK_BYTE_PTR b U, CK_ULONG c U, CK_BYTE_PTR d U, CK_ULONG_PTR e U))
UNSUPPORTED(C_EncryptFinal, (CK_SESSION_HANDLE a U, CK_BYTE_PTR b U, CK_ULONG_PTR c U))
UNSUPPORTED(C_DecryptInit, (CK_SESSION_HANDLE a U, CK_MECHANISM_PTR b U, CK_OBJECT_HANDLE c U))
UNSUPPORTED(C_Decrypt, (CK_SESSION_HANDLE a U, CK_BYTE_PTR b U, CK_ULONG c U, CK_BYTE_PTR d U, CK_ULONG_PTR e U))
UNSUPPORTED(C_DecryptUpdate, (CK_SESSION_HANDLE a U, CK_BYTE_PTR b U, CK_ULONG c U, CK_BYTE_PTR d U, CK_ULONG_PTR e U))
UNSUPPORTED(C_DecryptFinal, (CK_SESSION_HANDLE a U, CK_BYTE_PTR b U, CK_ULONG_PTR c U))
UNSUPPORTED(C_DigestKey, (CK_SESSION_HANDLE a U, CK_OBJECT_HANDLE b U))
UNSUPPORTED(C_SignRecoverInit, (CK_SESSION_HANDLE a U, CK_MECHANISM_PTR b U, CK_OBJECT_HANDLE c U))
UNSUPPORTED(C_SignRecover, (CK_SESSION_HANDLE a U, CK_BYTE_PTR b U, CK_ULONG c U, CK_BYTE_PTR d U, CK_ULONG_PTR e U))
UNSUPPORTED(C_VerifyRecoverInit, (CK_SESSION_HANDLE a U, CK_MECHANISM_PTR b U, CK_OBJECT_HANDLE c U))
UNSUPPORTED(C_VerifyRecover, (CK_SESSION_HANDLE a U, CK_BYTE_PTR b U, CK_ULONG c U, CK_BYTE_PTR d U, CK_ULONG_PTR e U))
UNSUPPORTED(C_DigestEncryptUpdate, (CK_SESSION_HANDLE a U, CK_BYTE_PTR b U, CK_ULONG c U, CK_BYTE_PTR d U, CK_ULONG_PTR e U))
UNSUPPORTED(C_DecryptDigestUpdate, (CK_SESSION_HANDLE a U, CK_BYTE_PTR b U, CK_ULONG c U, CK_BYTE_PTR d U, CK_ULONG_PTR e U))
UNSUPPORTED(C_SignEncryptUpdate, (CK_SESSION_HANDLE a U, CK_BYTE_PTR b U, CK_ULONG c U, CK_BYTE_PTR d U, CK_ULONG_PTR e U))
UNSUPPORTED(C_DecryptVerifyUpdate, (CK_SESSION_HANDLE a U, CK_BYTE_PTR b U, CK_ULONG c U, CK_BYTE_PTR d U, CK_ULONG_PTR e U))
UNSUPPORTED(C_GenerateKey, (CK_SESSION_HANDLE a U, CK_MECHANISM_PTR b U, CK_ATTRIBUTE_PTR c U, CK_ULONG d U, CK_OBJECT_HANDLE_PTR e U))
UNSUPPORTED(C_WrapKey, (CK_SESSION_HANDLE a U, CK_MECHANISM_PTR b U, CK_OBJECT_HANDLE c U, CK_OBJECT_HANDLE d U, CK_BYTE_PTR e U, CK_ULONG_PTR f U))
UNSUPPORTED(C_UnwrapKey, (CK_SESSION_HANDLE a U, CK_MECHANISM_PTR b U, CK_OBJECT_HANDLE c U, CK_BYTE_PTR d U, CK_ULONG e U, CK_ATTRIBUTE_PTR f U, CK_ULONG g U, CK_OBJECT_HANDLE_PTR h U))
UNSUPPORTED(C_DeriveKey, (CK_SESSION_HANDLE a U, CK_MECHANISM_PTR b U, CK_OBJECT_HANDLE c U, CK_ATTRIBUTE_PTR d U, CK_ULONG e U, CK_OBJECT_HANDLE_PTR f U))

/* Legacy calls that v2.40 (5.17) says simply answer CKR_FUNCTION_NOT_PARALLEL. */
CK_RV C_GetFunctionStatus(CK_SESSION_HANDLE a U) { return CKR_FUNCTION_NOT_PARALLEL; }
CK_RV C_CancelFunction(CK_SESSION_HANDLE a U) { return CKR_FUNCTION_NOT_PARALLEL; }

static CK_FUNCTION_LIST g_functions = {
	{2, 40},
	C_Initialize, C_Finalize, C_GetInfo, C_GetFunctionList,
	C_GetSlotList, C_GetSlotInfo, C_GetTokenInfo, C_GetMechanismList, C_GetMechanismInfo,
	C_InitToken, C_InitPIN, C_SetPIN,
	C_OpenSession, C_CloseSession, C_CloseAllSessions, C_GetSessionInfo,
	C_GetOperationState, C_SetOperationState, C_Login, C_Logout,
	C_CreateObject, C_CopyObject, C_DestroyObject, C_GetObjectSize,
	C_GetAttributeValue, C_SetAttributeValue,
	C_FindObjectsInit, C_FindObjects, C_FindObjectsFinal,
	C_EncryptInit, C_Encrypt, C_EncryptUpdate, C_EncryptFinal,
	C_DecryptInit, C_Decrypt, C_DecryptUpdate, C_DecryptFinal,
	C_DigestInit, C_Digest, C_DigestUpdate, C_DigestKey, C_DigestFinal,
	C_SignInit, C_Sign, C_SignUpdate, C_SignFinal, C_SignRecoverInit, C_SignRecover,
	C_VerifyInit, C_Verify, C_VerifyUpdate, C_VerifyFinal, C_VerifyRecoverInit, C_VerifyRecover,
	C_DigestEncryptUpdate, C_DecryptDigestUpdate, C_SignEncryptUpdate, C_DecryptVerifyUpdate,
	C_GenerateKey, C_GenerateKeyPair, C_WrapKey, C_UnwrapKey, C_DeriveKey,
	C_SeedRandom, C_GenerateRandom, C_GetFunctionStatus, C_CancelFunction, C_WaitForSlotEvent,
};

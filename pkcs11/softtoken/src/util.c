/* Attribute lists, files and configuration of the gostkey softtoken. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "st.h"

attr_t *attrs_find(const attrs_t *as, CK_ATTRIBUTE_TYPE type)
{
	for (size_t i = 0; i < as->n; i++)
		if (as->a[i].type == type)
			return &as->a[i];
	return NULL;
}

int attrs_set(attrs_t *as, CK_ATTRIBUTE_TYPE type, const void *val, CK_ULONG len)
{
	unsigned char *copy = malloc(len ? len : 1);
	if (copy == NULL)
		return -1;
	if (len)
		memcpy(copy, val, len);
	attr_t *a = attrs_find(as, type);
	if (a == NULL) {
		attr_t *na = realloc(as->a, (as->n + 1) * sizeof(*na));
		if (na == NULL) {
			free(copy);
			return -1;
		}
		as->a = na;
		a = &as->a[as->n++];
		a->type = type;
	} else {
		secure_zero(a->val, a->len);
		free(a->val);
	}
	a->val = copy;
	a->len = len;
	return 0;
}

int attrs_set_ulong(attrs_t *as, CK_ATTRIBUTE_TYPE type, CK_ULONG v)
{
	return attrs_set(as, type, &v, sizeof(v));
}

int attrs_set_bool(attrs_t *as, CK_ATTRIBUTE_TYPE type, CK_BBOOL v)
{
	return attrs_set(as, type, &v, sizeof(v));
}

void attrs_del(attrs_t *as, CK_ATTRIBUTE_TYPE type)
{
	attr_t *a = attrs_find(as, type);
	if (a == NULL)
		return;
	secure_zero(a->val, a->len);
	free(a->val);
	*a = as->a[--as->n];
}

CK_ULONG attrs_ulong(const attrs_t *as, CK_ATTRIBUTE_TYPE type, CK_ULONG def)
{
	attr_t *a = attrs_find(as, type);
	CK_ULONG v;
	if (a == NULL || a->len != sizeof(v))
		return def;
	memcpy(&v, a->val, sizeof(v));
	return v;
}

CK_BBOOL attrs_bool(const attrs_t *as, CK_ATTRIBUTE_TYPE type, CK_BBOOL def)
{
	attr_t *a = attrs_find(as, type);
	if (a == NULL || a->len != 1)
		return def;
	return a->val[0] ? CK_TRUE : CK_FALSE;
}

void attrs_free(attrs_t *as)
{
	for (size_t i = 0; i < as->n; i++) {
		secure_zero(as->a[i].val, as->a[i].len);
		free(as->a[i].val);
	}
	free(as->a);
	as->a = NULL;
	as->n = 0;
}

int attrs_copy(attrs_t *dst, const attrs_t *src)
{
	for (size_t i = 0; i < src->n; i++)
		if (attrs_set(dst, src->a[i].type, src->a[i].val, src->a[i].len))
			return -1;
	return 0;
}

static void put_be(unsigned char *p, uint64_t v, int n)
{
	for (int i = n - 1; i >= 0; i--) {
		p[i] = (unsigned char)v;
		v >>= 8;
	}
}

static uint64_t get_be(const unsigned char *p, int n)
{
	uint64_t v = 0;
	for (int i = 0; i < n; i++)
		v = (v << 8) | p[i];
	return v;
}

int attrs_encode(const attrs_t *as, unsigned char **out, size_t *outlen)
{
	size_t len = 4;
	for (size_t i = 0; i < as->n; i++)
		len += 12 + as->a[i].len;
	unsigned char *buf = malloc(len), *p = buf;
	if (buf == NULL)
		return -1;
	put_be(p, as->n, 4);
	p += 4;
	for (size_t i = 0; i < as->n; i++) {
		put_be(p, as->a[i].type, 8);
		put_be(p + 8, as->a[i].len, 4);
		memcpy(p + 12, as->a[i].val, as->a[i].len);
		p += 12 + as->a[i].len;
	}
	*out = buf;
	*outlen = len;
	return 0;
}

int attrs_decode(const unsigned char *in, size_t inlen, attrs_t *as)
{
	if (inlen < 4)
		return -1;
	uint64_t n = get_be(in, 4);
	size_t off = 4;
	for (uint64_t i = 0; i < n; i++) {
		if (inlen - off < 12)
			goto bad;
		CK_ATTRIBUTE_TYPE type = get_be(in + off, 8);
		size_t len = get_be(in + off + 8, 4);
		off += 12;
		if (inlen - off < len)
			goto bad;
		if (attrs_set(as, type, in + off, len))
			goto bad;
		off += len;
	}
	if (off != inlen)
		goto bad;
	return 0;
bad:
	attrs_free(as);
	return -1;
}

void hex_encode(const unsigned char *in, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 15];
	}
	out[2 * n] = 0;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int hex_decode(const char *in, unsigned char *out, size_t max, size_t *n)
{
	size_t len = strlen(in);
	if (len % 2 || len / 2 > max)
		return -1;
	for (size_t i = 0; i < len / 2; i++) {
		int hi = hexval(in[2 * i]), lo = hexval(in[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return -1;
		out[i] = (unsigned char)(hi << 4 | lo);
	}
	*n = len / 2;
	return 0;
}

void secure_zero(void *p, size_t n)
{
	if (p != NULL && n)
		OPENSSL_cleanse(p, n);
}

char *path_join(const char *dir, const char *name)
{
	size_t len = strlen(dir) + strlen(name) + 2;
	char *p = malloc(len);
	if (p != NULL)
		snprintf(p, len, "%s/%s", dir, name);
	return p;
}

void sync_dir_of(const char *path)
{
	/* A rename or unlink is durable only once the directory is on disk.
	 * Best effort: some file systems refuse fsync on a directory, and the
	 * file's own data was already synced. */
	char *d = strdup(path);
	if (d == NULL)
		return;
	int dfd = open(dirname(d), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0) {
		fsync(dfd);
		close(dfd);
	}
	free(d);
}

int write_atomic(const char *path, const void *data, size_t len)
{
	char *tmp = malloc(strlen(path) + 16);
	if (tmp == NULL)
		return -1;
	sprintf(tmp, "%s.tmp-XXXXXX", path);
	/* O_CLOEXEC: a host thread that forks and execs meanwhile must not
	 * hand the half-written token file to the child. */
	int fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0) {
		free(tmp);
		return -1;
	}
	const unsigned char *p = data;
	size_t left = len;
	while (left > 0) {
		ssize_t w = write(fd, p, left);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			goto fail;
		}
		p += w;
		left -= (size_t)w;
	}
	if (fsync(fd) || close(fd)) {
		fd = -1;
		goto fail;
	}
	fd = -1;
	if (rename(tmp, path))
		goto fail;
	free(tmp);
	sync_dir_of(path);
	return 0;
fail:
	if (fd >= 0)
		close(fd);
	unlink(tmp);
	free(tmp);
	return -1;
}

int read_file(const char *path, unsigned char **data, size_t *len)
{
	FILE *f = fopen(path, "rbe");
	if (f == NULL)
		return -1;
	size_t cap = 4096, n = 0;
	unsigned char *buf = malloc(cap);
	while (buf != NULL) {
		size_t r = fread(buf + n, 1, cap - n, f);
		n += r;
		if (n < cap)
			break;
		unsigned char *nb = realloc(buf, cap * 2);
		if (nb == NULL) {
			free(buf);
			buf = NULL;
			break;
		}
		buf = nb;
		cap *= 2;
	}
	int err = ferror(f);
	fclose(f);
	if (buf == NULL || err) {
		free(buf);
		return -1;
	}
	*data = buf;
	*len = n;
	return 0;
}

int kdf_valid(const kdf_t *k)
{
	if (k->alg == KDF_PBKDF2_SHA256)
		return k->iterations >= 1 && k->iterations <= INT_MAX;
	return k->alg == KDF_SCRYPT && k->log2n >= 1 && k->log2n <= 22 && k->r >= 1 && k->r <= 32 &&
	       k->p >= 1 && k->p <= 16 && ((uint64_t)k->r << k->log2n) <= (1u << 23);
}

int kdf_weaker(const kdf_t *stored, const kdf_t *want)
{
	if (stored->alg != KDF_SCRYPT)
		return 1;
	return ((uint64_t)stored->r * stored->p << stored->log2n) < ((uint64_t)want->r * want->p << want->log2n);
}

static int parse_uint(const char *s, unsigned lo, unsigned hi, unsigned *out)
{
	char *end;
	errno = 0;
	unsigned long v = strtoul(s, &end, 10);
	if (errno || end == s || *end || v < lo || v > hi)
		return -1;
	*out = (unsigned)v;
	return 0;
}

static char *trim(char *s)
{
	while (*s == ' ' || *s == '\t')
		s++;
	char *e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\n' || e[-1] == '\r'))
		*--e = 0;
	return s;
}

/* config_file reads "key = value" lines; '#' starts a comment. An unknown key
 * or a bad value fails the whole load, so a typo never goes unnoticed. */
static int config_file(config_t *cfg, const char *path)
{
	FILE *f = fopen(path, "re");
	if (f == NULL)
		return -1;
	char line[4096];
	int rc = 0;
	while (rc == 0 && fgets(line, sizeof(line), f) != NULL) {
		char *s = trim(line);
		if (*s == 0 || *s == '#')
			continue;
		char *eq = strchr(s, '=');
		if (eq == NULL) {
			rc = -1;
			break;
		}
		*eq = 0;
		char *key = trim(s), *val = trim(eq + 1);
		if (strcmp(key, "directory") == 0) {
			free(cfg->dir);
			cfg->dir = strdup(val);
			rc = cfg->dir == NULL || *val == 0 ? -1 : 0;
		} else if (strcmp(key, "pin_retries") == 0)
			rc = parse_uint(val, 1, 100, &cfg->retries);
		else if (strcmp(key, "kdf_iterations") == 0) {
			/* The PBKDF2 count of the tokens before scrypt: still
			 * parsed so that an old config file loads, no longer used. */
			unsigned ignored;
			rc = parse_uint(val, 1, 100000000, &ignored);
		} else if (strcmp(key, "scrypt_log2n") == 0)
			rc = parse_uint(val, 1, 22, &cfg->kdf.log2n);
		else if (strcmp(key, "scrypt_r") == 0)
			rc = parse_uint(val, 1, 32, &cfg->kdf.r);
		else if (strcmp(key, "scrypt_p") == 0)
			rc = parse_uint(val, 1, 16, &cfg->kdf.p);
		else if (strcmp(key, "min_pin_length") == 0)
			rc = parse_uint(val, 1, 255, &cfg->min_pin);
		else if (strcmp(key, "max_pin_length") == 0)
			rc = parse_uint(val, 1, 255, &cfg->max_pin);
		else if (strcmp(key, "poll_interval_ms") == 0)
			rc = parse_uint(val, 10, 60000, &cfg->poll_ms);
		else
			rc = -1;
	}
	fclose(f);
	if (cfg->min_pin > cfg->max_pin || !kdf_valid(&cfg->kdf))
		rc = -1;
	return rc;
}

int config_load(config_t *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->retries = 10;
	/* scrypt N = 2^16, r = 8, p = 1: 64 MiB and about 200 ms per PIN try
	 * on the 2-core build machine (2^15 measured 104 ms, at the 100 ms
	 * floor with no margin). */
	cfg->kdf = (kdf_t){.alg = KDF_SCRYPT, .log2n = 16, .r = 8, .p = 1};
	/* Six characters at least: with the retry limit a PIN is guessed
	 * online in max_retries tries out of 10^6 (digits only), and offline
	 * (a copied token) each try costs one scrypt. */
	cfg->min_pin = 6;
	cfg->max_pin = 64;
	cfg->poll_ms = 200;
	const char *conf = getenv("GOSTKEY_SOFTTOKEN_CONF");
	if (conf != NULL && *conf && config_file(cfg, conf))
		goto fail;
	const char *dir = getenv("GOSTKEY_SOFTTOKEN_DIR");
	if (dir != NULL && *dir) {
		free(cfg->dir);
		cfg->dir = strdup(dir);
	}
	if (cfg->dir == NULL) {
		const char *data = getenv("XDG_DATA_HOME"), *home = getenv("HOME");
		char buf[4096];
		if (data != NULL && *data)
			snprintf(buf, sizeof(buf), "%s/gostkey/softtoken", data);
		else if (home != NULL && *home)
			snprintf(buf, sizeof(buf), "%s/.local/share/gostkey/softtoken", home);
		else
			goto fail;
		cfg->dir = strdup(buf);
	}
	if (cfg->dir == NULL)
		goto fail;
	/* Slots keep paths for the life of the process, which may chdir. */
	if (cfg->dir[0] != '/') {
		char cwd[4096];
		if (getcwd(cwd, sizeof(cwd)) == NULL)
			goto fail;
		char *abs = path_join(cwd, cfg->dir);
		if (abs == NULL)
			goto fail;
		free(cfg->dir);
		cfg->dir = abs;
	}
	return 0;
fail:
	config_free(cfg);
	return -1;
}

void config_free(config_t *cfg)
{
	free(cfg->dir);
	cfg->dir = NULL;
}

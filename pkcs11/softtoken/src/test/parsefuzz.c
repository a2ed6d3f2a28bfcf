/*
 * parsefuzz feeds mutated inputs to the softtoken's parsers — attribute
 * lists, object files, token.conf, the module config and hex — built with
 * AddressSanitizer and UBSan, so an out-of-bounds read, overflow or leak on
 * a corrupt or hostile token directory fails the run.
 *   parsefuzz DIR ITERATIONS SEED   deterministic mutation run; valid inputs
 *                                   must also round-trip
 *   parsefuzz -one DIR < INPUT      one input (for go test -fuzz): its first
 *                                   byte picks the parser, the rest is fed
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../st.h"

static unsigned long long rng;

static unsigned next(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (unsigned)(rng >> 11);
}

#define FAIL(...)                                             \
	do {                                                  \
		fprintf(stderr, "parsefuzz: " __VA_ARGS__); \
		exit(1);                                      \
	} while (0)

/* mutate flips, inserts, deletes or truncates bytes of in into out. */
static size_t mutate(const unsigned char *in, size_t n, unsigned char *out, size_t cap)
{
	size_t len = n < cap ? n : cap;
	memcpy(out, in, len);
	int rounds = 1 + (int)(next() % 4);
	for (int r = 0; r < rounds; r++) {
		switch (next() % 5) {
		case 0:
			if (len)
				out[next() % len] ^= (unsigned char)(1u << (next() % 8));
			break;
		case 1:
			if (len)
				out[next() % len] = (unsigned char)next();
			break;
		case 2:
			if (len < cap) {
				size_t at = len ? next() % (len + 1) : 0;
				memmove(out + at + 1, out + at, len - at);
				out[at] = (unsigned char)next();
				len++;
			}
			break;
		case 3:
			if (len) {
				size_t at = next() % len;
				memmove(out + at, out + at + 1, len - at - 1);
				len--;
			}
			break;
		case 4:
			len = len ? next() % len : 0;
			break;
		}
	}
	return len;
}

static void sample_attrs(attrs_t *as)
{
	CK_ULONG cls = CKO_PRIVATE_KEY;
	unsigned char oid[] = {0x06, 0x09, 0x2a, 0x85, 0x03, 0x07, 0x01, 0x02, 0x01, 0x01, 0x01};
	if (attrs_set(as, CKA_CLASS, &cls, sizeof(cls)) || attrs_set_bool(as, CKA_TOKEN, CK_TRUE) ||
	    attrs_set(as, CKA_LABEL, "label", 5) || attrs_set(as, CKA_ID, "", 0) ||
	    attrs_set(as, CKA_GOSTR3410_PARAMS, oid, sizeof(oid)))
		FAIL("out of memory\n");
}

static int attrs_equal(const attrs_t *a, const attrs_t *b)
{
	if (a->n != b->n)
		return 0;
	for (size_t i = 0; i < a->n; i++) {
		attr_t *o = attrs_find(b, a->a[i].type);
		if (o == NULL || o->len != a->a[i].len || memcmp(o->val, a->a[i].val, o->len) != 0)
			return 0;
	}
	return 1;
}

static void write_file(const char *path, const void *data, size_t n)
{
	FILE *f = fopen(path, "wb");
	if (f == NULL || fwrite(data, 1, n, f) != n || fclose(f) != 0)
		FAIL("cannot write %s\n", path);
}

/* one feeds a single input from stdin to the parser its first byte picks. */
static int one(const char *dir)
{
	static unsigned char in[1 << 16];
	size_t n = fread(in, 1, sizeof(in) - 1, stdin);
	if (n == 0)
		return 0;
	const unsigned char *data = in + 1;
	size_t len = n - 1;
	char path[4096];
	attrs_t out = {0};
	unsigned char *blob;
	size_t bloblen;
	tstate_t st;
	config_t cfg;
	switch (in[0] % 5) {
	case 0:
		if (attrs_decode(data, len, &out) == 0)
			attrs_free(&out);
		break;
	case 1:
		snprintf(path, sizeof(path), "%s/objects", dir);
		mkdir(path, 0700);
		snprintf(path, sizeof(path), "%s/objects/0123456789abcdef.obj", dir);
		write_file(path, data, len);
		if (store_read_object(dir, "0123456789abcdef", &out, &blob, &bloblen) == 0) {
			attrs_free(&out);
			free(blob);
		}
		break;
	case 2:
		snprintf(path, sizeof(path), "%s/token.conf", dir);
		write_file(path, data, len);
		store_read_state(dir, &st);
		break;
	case 3:
		snprintf(path, sizeof(path), "%s/softtoken.conf", dir);
		write_file(path, data, len);
		setenv("GOSTKEY_SOFTTOKEN_CONF", path, 1);
		if (config_load(&cfg) == 0)
			config_free(&cfg);
		break;
	case 4: {
		unsigned char out8[8];
		size_t got;
		in[n] = 0;
		hex_decode((const char *)data, out8, sizeof(out8), &got);
		break;
	}
	}
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 3 && strcmp(argv[1], "-one") == 0)
		return one(argv[2]);
	if (argc != 4) {
		fprintf(stderr, "usage: parsefuzz DIR ITERATIONS SEED\n");
		return 2;
	}
	const char *dir = argv[1];
	long iters = atol(argv[2]);
	rng = strtoull(argv[3], NULL, 10) | 1;

	/* valid seeds, checked to round-trip */
	attrs_t as = {0}, back = {0};
	sample_attrs(&as);
	unsigned char *enc;
	size_t enclen;
	if (attrs_encode(&as, &enc, &enclen) || attrs_decode(enc, enclen, &back) || !attrs_equal(&as, &back))
		FAIL("attribute list does not round-trip\n");
	attrs_free(&back);

	const char *fid = "0123456789abcdef";
	unsigned char sealed[40];
	memset(sealed, 0x5a, sizeof(sealed));
	if (store_write_object(dir, fid, &as, sealed, sizeof(sealed)))
		FAIL("store_write_object\n");
	attrs_t clear = {0};
	unsigned char *blob;
	size_t bloblen;
	if (store_read_object(dir, fid, &clear, &blob, &bloblen) || !attrs_equal(&as, &clear) ||
	    bloblen != sizeof(sealed) || memcmp(blob, sealed, bloblen) != 0)
		FAIL("object file does not round-trip\n");
	attrs_free(&clear);
	free(blob);
	/* a journal hides the objects it names while it exists; the recovery
	 * removes them, the journal and temporary files, nothing else */
	{
		static const char pair[2][17] = {"1111111111111111", "2222222222222222"};
		objent_t *ents;
		size_t n;
		char path[4096];
		if (store_journal_begin(dir, pair, 2) || store_write_object(dir, pair[0], &as, NULL, 0) ||
		    store_write_object(dir, pair[1], &as, NULL, 0))
			FAIL("journal setup\n");
		if (store_list_objects(dir, &ents, &n) || n != 1 || strcmp(ents[0].fid, fid) != 0)
			FAIL("an object of an unfinished pair is listed\n");
		free(ents);
		snprintf(path, sizeof(path), "%s/objects/%s.obj.tmp-abcdef", dir, fid);
		write_file(path, "x", 1);
		store_recover(dir);
		snprintf(path, sizeof(path), "%s/objects/%s.obj.tmp-abcdef", dir, fid);
		int tmp_left = access(path, F_OK) == 0;
		snprintf(path, sizeof(path), "%s/objects/%s.obj", dir, pair[1]);
		int half_left = access(path, F_OK) == 0;
		snprintf(path, sizeof(path), "%s/objects/%s.pending", dir, pair[0]);
		if (tmp_left || half_left || access(path, F_OK) == 0)
			FAIL("store_recover left the unfinished pair behind\n");
		if (store_list_objects(dir, &ents, &n) || n != 1)
			FAIL("store_recover removed a finished object\n");
		free(ents);
		if (store_journal_begin(dir, pair, 2) || store_write_object(dir, pair[0], &as, NULL, 0) ||
		    store_write_object(dir, pair[1], &as, NULL, 0) || store_journal_end(dir, pair[0]))
			FAIL("journal round\n");
		store_recover(dir);
		if (store_list_objects(dir, &ents, &n) || n != 3)
			FAIL("a finished pair is not listed\n");
		free(ents);
		if (store_delete_object(dir, pair[0]) || store_delete_object(dir, pair[1]))
			FAIL("store_delete_object\n");
	}
	char objpath[4096];
	snprintf(objpath, sizeof(objpath), "%s/objects/%s.obj", dir, fid);
	unsigned char *objfile;
	size_t objlen;
	if (read_file(objpath, &objfile, &objlen))
		FAIL("read_file\n");

	tstate_t st, st2;
	memset(&st, 0, sizeof(st));
	strcpy(st.label, "fuzz token");
	strcpy(st.serial, "00112233aabbccdd");
	st.so_kdf = (kdf_t){.alg = KDF_SCRYPT, .log2n = 10, .r = 8, .p = 1};
	st.user_kdf = (kdf_t){.alg = KDF_PBKDF2_SHA256, .iterations = 1000};
	st.max_retries = 10;
	st.user_fail = 2;
	st.has_user = 1;
	memset(st.so_wrap, 7, sizeof(st.so_wrap));
	memset(st.user_salt, 9, sizeof(st.user_salt));
	if (store_write_state(dir, &st) || store_read_state(dir, &st2) || !st2.initialized ||
	    strcmp(st2.label, st.label) != 0 || st2.user_fail != 2 || !st2.has_user ||
	    memcmp(st2.so_wrap, st.so_wrap, WRAP_LEN) != 0 || memcmp(st2.user_salt, st.user_salt, SALT_LEN) != 0 ||
	    memcmp(&st2.so_kdf, &st.so_kdf, sizeof(kdf_t)) != 0 || memcmp(&st2.user_kdf, &st.user_kdf, sizeof(kdf_t)) != 0)
		FAIL("token.conf does not round-trip\n");
	char statepath[4096];
	snprintf(statepath, sizeof(statepath), "%s/token.conf", dir);
	unsigned char *statefile;
	size_t statelen;
	if (read_file(statepath, &statefile, &statelen))
		FAIL("read_file\n");

	char confpath[4096];
	snprintf(confpath, sizeof(confpath), "%s/softtoken.conf", dir);
	const char *conf = "# test\ndirectory = /tmp/x\npin_retries = 5\nkdf_iterations = 1000\nscrypt_log2n = 12\n"
			   "min_pin_length = 4\nmax_pin_length = 32\npoll_interval_ms = 50\n";
	write_file(confpath, conf, strlen(conf));
	setenv("GOSTKEY_SOFTTOKEN_CONF", confpath, 1);
	unsetenv("GOSTKEY_SOFTTOKEN_DIR");
	config_t cfg;
	if (config_load(&cfg) || strcmp(cfg.dir, "/tmp/x") != 0 || cfg.retries != 5 || cfg.max_pin != 32 || cfg.kdf.log2n != 12)
		FAIL("config does not parse\n");
	config_free(&cfg);

	unsigned char buf[4096];
	for (long i = 0; i < iters; i++) {
		size_t n;
		attrs_t out = {0};
		switch (i % 5) {
		case 0:
			n = mutate(enc, enclen, buf, sizeof(buf));
			if (attrs_decode(buf, n, &out) == 0)
				attrs_free(&out);
			break;
		case 1:
			n = mutate(objfile, objlen, buf, sizeof(buf));
			write_file(objpath, buf, n);
			if (store_read_object(dir, fid, &out, &blob, &bloblen) == 0) {
				attrs_free(&out);
				free(blob);
			}
			break;
		case 2:
			n = mutate(statefile, statelen, buf, sizeof(buf) - 1);
			write_file(statepath, buf, n);
			store_read_state(dir, &st2);
			break;
		case 3:
			n = mutate((const unsigned char *)conf, strlen(conf), buf, sizeof(buf));
			write_file(confpath, buf, n);
			if (config_load(&cfg) == 0)
				config_free(&cfg);
			break;
		case 4: {
			n = mutate((const unsigned char *)"00ff10aB", 8, buf, 64);
			buf[n] = 0;
			unsigned char out8[8];
			size_t got;
			hex_decode((const char *)buf, out8, sizeof(out8), &got);
			break;
		}
		}
	}
	attrs_free(&as);
	free(enc);
	free(objfile);
	free(statefile);
	printf("parsefuzz: %ld inputs, no fault\n", iters);
	return 0;
}

/*
 * Token directories on disk. A token is a directory holding
 *   token.conf   label, serial, PIN salts, the master key wrapped under each
 *                PIN with the KDF that wrapped it, PIN failure counters
 *                (text, one "key value" a line; version 1, before scrypt,
 *                had one PBKDF2 "iterations" line for both copies)
 *   objects/     one <id>.obj file per token object
 *   objects/<id>.pending  journal of a key pair being made or a wipe under way
 *   .lock        flock(2) target serializing processes
 *   .login       flock(2) target: logins to the token take turns on it
 *   .removed     if present, the token is "pulled out"
 * Every file is replaced atomically (write_atomic), so a crash leaves the
 * previous or the next version, never a torn one; every write happens under
 * the .lock, so whoever holds it may remove temporary files it finds.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "st.h"

#define STATE_FILE "token.conf"
#define OBJ_DIR "objects"
static const unsigned char OBJ_MAGIC[4] = {'G', 'K', 'O', '1'};

static int lock_file(const char *dir, const char *name)
{
	char *p = path_join(dir, name);
	if (p == NULL)
		return -1;
	int fd = open(p, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	free(p);
	if (fd < 0)
		return -1;
	while (flock(fd, LOCK_EX) != 0) {
		if (errno != EINTR) {
			close(fd);
			return -1;
		}
	}
	return fd;
}

int store_lock(const char *dir)
{
	return lock_file(dir, ".lock");
}

int store_login_lock(const char *dir)
{
	return lock_file(dir, ".login");
}

void store_unlock(int fd)
{
	if (fd >= 0)
		close(fd);
}

int store_present(const char *dir)
{
	struct stat sb;
	if (stat(dir, &sb) != 0 || !S_ISDIR(sb.st_mode))
		return 0;
	char *p = path_join(dir, ".removed");
	if (p == NULL)
		return 0;
	int removed = access(p, F_OK) == 0;
	free(p);
	return !removed;
}

static int get_hex(const char *val, unsigned char *out, size_t want)
{
	size_t n;
	return hex_decode(val, out, want, &n) == 0 && n == want ? 0 : -1;
}

/* parse_kdf reads "scrypt LOG2N R P" or "pbkdf2-sha256 ITERATIONS". */
static int parse_kdf(const char *val, kdf_t *k)
{
	char alg[16], extra;
	unsigned a, b, c;
	memset(k, 0, sizeof(*k));
	if (sscanf(val, "scrypt %u %u %u %c", &a, &b, &c, &extra) == 3) {
		k->alg = KDF_SCRYPT;
		k->log2n = a;
		k->r = b;
		k->p = c;
	} else if (sscanf(val, "%15s %u %c", alg, &a, &extra) == 2 && strcmp(alg, "pbkdf2-sha256") == 0) {
		k->alg = KDF_PBKDF2_SHA256;
		k->iterations = a;
	}
	return kdf_valid(k) ? 0 : -1;
}

static void format_kdf(const kdf_t *k, char *out, size_t n)
{
	if (k->alg == KDF_SCRYPT)
		snprintf(out, n, "scrypt %u %u %u", k->log2n, k->r, k->p);
	else
		snprintf(out, n, "pbkdf2-sha256 %u", k->iterations);
}

int store_read_state(const char *dir, tstate_t *st)
{
	memset(st, 0, sizeof(*st));
	char *p = path_join(dir, STATE_FILE);
	if (p == NULL)
		return -1;
	FILE *f = fopen(p, "re");
	free(p);
	if (f == NULL)
		return errno == ENOENT ? 0 : -1;
	char line[512];
	int rc = 0, have_so = 0, version = 0;
	unsigned iterations = 0;
	while (rc == 0 && fgets(line, sizeof(line), f) != NULL) {
		line[strcspn(line, "\r\n")] = 0;
		char *val = strchr(line, ' ');
		if (val == NULL) {
			rc = -1;
			break;
		}
		*val++ = 0;
		size_t n;
		if (strcmp(line, "version") == 0) {
			version = strcmp(val, "1") == 0 ? 1 : strcmp(val, "2") == 0 ? 2 : 0;
			rc = version ? 0 : -1;
		} else if (strcmp(line, "label") == 0) {
			rc = hex_decode(val, (unsigned char *)st->label, 32, &n);
			st->label[rc == 0 ? n : 0] = 0;
		} else if (strcmp(line, "serial") == 0) {
			rc = strlen(val) == 16 ? 0 : -1;
			if (rc == 0)
				memcpy(st->serial, val, 17);
		} else if (strcmp(line, "iterations") == 0)
			iterations = (unsigned)strtoul(val, NULL, 10);
		else if (strcmp(line, "max_retries") == 0)
			st->max_retries = (unsigned)strtoul(val, NULL, 10);
		else if (strcmp(line, "user_fail") == 0)
			st->user_fail = (unsigned)strtoul(val, NULL, 10);
		else if (strcmp(line, "so_fail") == 0)
			st->so_fail = (unsigned)strtoul(val, NULL, 10);
		else if (strcmp(line, "so_kdf") == 0)
			rc = parse_kdf(val, &st->so_kdf);
		else if (strcmp(line, "user_kdf") == 0)
			rc = parse_kdf(val, &st->user_kdf);
		else if (strcmp(line, "so_salt") == 0)
			rc = get_hex(val, st->so_salt, SALT_LEN);
		else if (strcmp(line, "so_wrap") == 0) {
			rc = get_hex(val, st->so_wrap, WRAP_LEN);
			have_so = 1;
		} else if (strcmp(line, "user_salt") == 0)
			rc = get_hex(val, st->user_salt, SALT_LEN);
		else if (strcmp(line, "user_wrap") == 0) {
			rc = get_hex(val, st->user_wrap, WRAP_LEN);
			st->has_user = 1;
		}
	}
	fclose(f);
	if (version == 1) {
		/* Both copies were wrapped with PBKDF2 at the token's count. */
		st->so_kdf = (kdf_t){.alg = KDF_PBKDF2_SHA256, .iterations = iterations};
		st->user_kdf = st->so_kdf;
	}
	if (rc != 0 || version == 0 || !have_so || st->serial[0] == 0 || st->max_retries == 0 ||
	    !kdf_valid(&st->so_kdf) || (st->has_user && !kdf_valid(&st->user_kdf)))
		return -1;
	st->initialized = 1;
	return 0;
}

int store_write_state(const char *dir, const tstate_t *st)
{
	char buf[2048], label[65], sosalt[2 * SALT_LEN + 1], sowrap[2 * WRAP_LEN + 1], sokdf[64];
	hex_encode((const unsigned char *)st->label, strlen(st->label), label);
	hex_encode(st->so_salt, SALT_LEN, sosalt);
	hex_encode(st->so_wrap, WRAP_LEN, sowrap);
	format_kdf(&st->so_kdf, sokdf, sizeof(sokdf));
	int n = snprintf(buf, sizeof(buf),
			 "version 2\nlabel %s\nserial %s\nmax_retries %u\n"
			 "user_fail %u\nso_fail %u\nso_kdf %s\nso_salt %s\nso_wrap %s\n",
			 label, st->serial, st->max_retries,
			 st->user_fail, st->so_fail, sokdf, sosalt, sowrap);
	if (st->has_user) {
		char usalt[2 * SALT_LEN + 1], uwrap[2 * WRAP_LEN + 1], ukdf[64];
		hex_encode(st->user_salt, SALT_LEN, usalt);
		hex_encode(st->user_wrap, WRAP_LEN, uwrap);
		format_kdf(&st->user_kdf, ukdf, sizeof(ukdf));
		n += snprintf(buf + n, sizeof(buf) - (size_t)n, "user_kdf %s\nuser_salt %s\nuser_wrap %s\n", ukdf, usalt, uwrap);
	}
	char *p = path_join(dir, STATE_FILE);
	if (p == NULL)
		return -1;
	int rc = write_atomic(p, buf, (size_t)n);
	free(p);
	secure_zero(buf, sizeof(buf));
	return rc;
}

static char *obj_path(const char *dir, const char *fid)
{
	char name[64];
	snprintf(name, sizeof(name), OBJ_DIR "/%s.obj", fid);
	return path_join(dir, name);
}

static void put32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)(v >> 24);
	p[1] = (unsigned char)(v >> 16);
	p[2] = (unsigned char)(v >> 8);
	p[3] = (unsigned char)v;
}

static uint32_t get32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static int obj_dir_make(const char *dir)
{
	char *od = path_join(dir, OBJ_DIR);
	if (od == NULL)
		return -1;
	int rc = mkdir(od, 0700) != 0 && errno != EEXIST ? -1 : 0;
	free(od);
	return rc;
}

int store_write_object(const char *dir, const char *fid, const attrs_t *clear, const unsigned char *enc, size_t enclen)
{
	if (obj_dir_make(dir))
		return -1;
	unsigned char *cl;
	size_t cllen;
	if (attrs_encode(clear, &cl, &cllen))
		return -1;
	size_t len = 4 + 4 + cllen + 4 + enclen;
	unsigned char *buf = malloc(len);
	int rc = -1;
	if (buf != NULL) {
		memcpy(buf, OBJ_MAGIC, 4);
		put32(buf + 4, (uint32_t)cllen);
		memcpy(buf + 8, cl, cllen);
		put32(buf + 8 + cllen, (uint32_t)enclen);
		if (enclen)
			memcpy(buf + 12 + cllen, enc, enclen);
		char *p = obj_path(dir, fid);
		if (p != NULL)
			rc = write_atomic(p, buf, len);
		free(p);
		free(buf);
	}
	free(cl);
	return rc;
}

int store_read_object(const char *dir, const char *fid, attrs_t *clear, unsigned char **enc, size_t *enclen)
{
	char *p = obj_path(dir, fid);
	unsigned char *buf;
	size_t len;
	if (p == NULL)
		return -1;
	int rc = read_file(p, &buf, &len);
	free(p);
	if (rc)
		return -1;
	rc = -1;
	*enc = NULL;
	*enclen = 0;
	if (len < 12 || memcmp(buf, OBJ_MAGIC, 4) != 0)
		goto out;
	size_t cllen = get32(buf + 4);
	if (cllen > len - 12)
		goto out;
	size_t el = get32(buf + 8 + cllen);
	if (el != len - 12 - cllen)
		goto out;
	if (attrs_decode(buf + 8, cllen, clear))
		goto out;
	if (el) {
		*enc = malloc(el);
		if (*enc == NULL) {
			attrs_free(clear);
			goto out;
		}
		memcpy(*enc, buf + 12 + cllen, el);
		*enclen = el;
	}
	rc = 0;
out:
	free(buf);
	return rc;
}

int store_delete_object(const char *dir, const char *fid)
{
	char *p = obj_path(dir, fid);
	if (p == NULL)
		return -1;
	int rc = unlink(p) == 0 || errno == ENOENT ? 0 : -1;
	if (rc == 0)
		sync_dir_of(p); /* a crash must not bring a destroyed object back */
	free(p);
	return rc;
}

static int valid_fid(const char *name)
{
	size_t n = strlen(name);
	if (n != 20 || strcmp(name + 16, ".obj") != 0)
		return 0;
	for (size_t i = 0; i < 16; i++)
		if (!((name[i] >= '0' && name[i] <= '9') || (name[i] >= 'a' && name[i] <= 'f')))
			return 0;
	return 1;
}

static void stamp_of(const struct stat *sb, fstamp_t *st)
{
	st->ino = (unsigned long long)sb->st_ino;
	st->size = (unsigned long long)sb->st_size;
	st->sec = (long long)sb->st_mtim.tv_sec;
	st->nsec = sb->st_mtim.tv_nsec;
}

int store_object_stamp(const char *dir, const char *fid, fstamp_t *stamp)
{
	char *p = obj_path(dir, fid);
	struct stat sb;
	int rc = p != NULL && stat(p, &sb) == 0 ? 0 : -1;
	if (rc == 0)
		stamp_of(&sb, stamp);
	free(p);
	return rc;
}

/* pending_fids reads the file ids the journals in an objects directory
 * name: objects of a creation still in progress (or rolled back at the next
 * C_OpenSession), not listed yet. It returns a malloc'd array of 16-char
 * ids, or NULL when there are none. */
static char (*pending_fids(const char *od, size_t *n))[16]
{
	char (*ids)[16] = NULL;
	*n = 0;
	DIR *d = opendir(od);
	if (d == NULL)
		return NULL;
	struct dirent *de;
	while ((de = readdir(d)) != NULL) {
		const char *name = de->d_name;
		if (strlen(name) != 16 + 8 || strcmp(name + 16, ".pending") != 0)
			continue;
		unsigned char *buf;
		size_t len;
		char rel[64];
		snprintf(rel, sizeof(rel), "%.16s.pending", name);
		char *jp = path_join(od, rel);
		if (jp == NULL || read_file(jp, &buf, &len) != 0) {
			free(jp);
			continue;
		}
		free(jp);
		for (size_t off = 0; off + 17 <= len; off += 17) {
			char (*ni)[16] = realloc(ids, (*n + 1) * sizeof(*ids));
			if (ni == NULL)
				break;
			ids = ni;
			memcpy(ids[(*n)++], buf + off, 16);
		}
		free(buf);
	}
	closedir(d);
	return ids;
}

int store_list_objects(const char *dir, objent_t **ents, size_t *n)
{
	*ents = NULL;
	*n = 0;
	char *od = path_join(dir, OBJ_DIR);
	if (od == NULL)
		return -1;
	size_t npend;
	char (*pend)[16] = pending_fids(od, &npend);
	DIR *d = opendir(od);
	free(od);
	if (d == NULL) {
		int absent = errno == ENOENT;
		free(pend);
		return absent ? 0 : -1;
	}
	struct dirent *de;
	int rc = 0;
	while ((de = readdir(d)) != NULL) {
		struct stat sb;
		int pending = 0;
		for (size_t i = 0; i < npend && !pending; i++)
			pending = memcmp(pend[i], de->d_name, 16) == 0;
		if (pending || !valid_fid(de->d_name) || fstatat(dirfd(d), de->d_name, &sb, 0) != 0)
			continue;
		objent_t *ne = realloc(*ents, (*n + 1) * sizeof(**ents));
		if (ne == NULL) {
			rc = -1;
			break;
		}
		*ents = ne;
		memcpy(ne[*n].fid, de->d_name, 16);
		ne[*n].fid[16] = 0;
		stamp_of(&sb, &ne[*n].stamp);
		(*n)++;
	}
	closedir(d);
	free(pend);
	if (rc) {
		free(*ents);
		*ents = NULL;
		*n = 0;
	}
	return rc;
}

int store_delete_all_objects(const char *dir)
{
	objent_t *ents;
	size_t n;
	if (store_list_objects(dir, &ents, &n))
		return -1;
	if (n == 0) {
		free(ents);
		return 0;
	}
	/* A journal naming every object goes first: killed midway, the
	 * deletion is finished by the next C_OpenSession (store_recover)
	 * rather than leaving half of a key pair. */
	char (*fids)[17] = malloc(n * sizeof(*fids));
	int rc = fids == NULL ? -1 : 0;
	for (size_t i = 0; rc == 0 && i < n; i++)
		memcpy(fids[i], ents[i].fid, 17);
	if (rc == 0)
		rc = store_journal_begin(dir, fids, n);
	for (size_t i = 0; rc == 0 && i < n; i++)
		rc = store_delete_object(dir, ents[i].fid);
	if (rc == 0)
		rc = store_journal_end(dir, fids[0]);
	free(fids);
	free(ents);
	return rc;
}

/* A journal lists the file ids of objects created together (a key pair)
 * or deleted together (C_InitToken wiping the token), one a line. It is on
 * disk before the first of them is written or removed and is removed after
 * the last: an open that finds one, under the lock, knows its writer died
 * midway and removes every object it names, which rolls a creation back
 * and finishes a deletion. Either way no half of a key pair stays. */
static char *journal_path(const char *dir, const char *fid)
{
	char name[64];
	snprintf(name, sizeof(name), OBJ_DIR "/%s.pending", fid);
	return path_join(dir, name);
}

int store_journal_begin(const char *dir, const char (*fids)[17], size_t n)
{
	if (n == 0 || obj_dir_make(dir))
		return -1;
	char *buf = malloc(17 * n + 1);
	if (buf == NULL)
		return -1;
	for (size_t i = 0; i < n; i++)
		snprintf(buf + 17 * i, 18, "%s\n", fids[i]);
	char *p = journal_path(dir, fids[0]);
	int rc = p != NULL ? write_atomic(p, buf, 17 * n) : -1;
	free(p);
	free(buf);
	return rc;
}

int store_journal_end(const char *dir, const char *fid)
{
	char *p = journal_path(dir, fid);
	if (p == NULL)
		return -1;
	int rc = unlink(p) == 0 ? 0 : -1;
	if (rc == 0)
		sync_dir_of(p);
	free(p);
	return rc;
}

static int is_hex_fid(const char *s)
{
	for (size_t i = 0; i < 16; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	return 1;
}

/* roll_back removes the objects a journal names, then the journal. */
static void roll_back(const char *dir, const char *jname)
{
	char jfid[17];
	memcpy(jfid, jname, 16);
	jfid[16] = 0;
	char *jp = journal_path(dir, jfid);
	unsigned char *buf;
	size_t len;
	if (jp == NULL)
		return;
	if (read_file(jp, &buf, &len) == 0) {
		for (size_t off = 0; off + 17 <= len; off += 17) {
			char fid[17];
			memcpy(fid, buf + off, 16);
			fid[16] = 0;
			if (buf[off + 16] == '\n' && is_hex_fid(fid))
				store_delete_object(dir, fid);
		}
		free(buf);
	}
	unlink(jp);
	sync_dir_of(jp);
	free(jp);
}

/* sweep removes the temporary files in dir (a writer killed between
 * mkostemp and rename) and, when tokdir is given (dir is its objects/),
 * rolls back the journals there. */
static void sweep(const char *dir, const char *tokdir)
{
	DIR *d = opendir(dir);
	if (d == NULL)
		return;
	struct dirent *de;
	int removed = 0;
	while ((de = readdir(d)) != NULL) {
		const char *n = de->d_name;
		if (strstr(n, ".tmp-") != NULL)
			removed |= unlinkat(dirfd(d), n, 0) == 0;
		else if (tokdir != NULL && strlen(n) == 16 + 8 && strcmp(n + 16, ".pending") == 0 && is_hex_fid(n))
			roll_back(tokdir, n);
	}
	closedir(d);
	char *p = removed ? path_join(dir, ".") : NULL;
	if (p != NULL)
		sync_dir_of(p);
	free(p);
}

void store_recover(const char *dir)
{
	sweep(dir, NULL);
	char *od = path_join(dir, OBJ_DIR);
	if (od != NULL)
		sweep(od, dir);
	free(od);
}

/* tighten_at makes one entry of a token directory private: owned by this
 * user, a directory 0700 and a file 0600 once it was open to group or
 * others; open and owned by someone else, it is refused. Symbolic links
 * (the module makes none) are left alone: their own mode means nothing. */
static int tighten_at(int dfd, const char *name)
{
	struct stat sb;
	if (fstatat(dfd, name, &sb, AT_SYMLINK_NOFOLLOW) != 0)
		return errno == ENOENT ? 0 : -1;
	if (S_ISLNK(sb.st_mode) || (sb.st_mode & 077) == 0)
		return 0;
	if (sb.st_uid != geteuid())
		return -1;
	return fchmodat(dfd, name, S_ISDIR(sb.st_mode) ? 0700 : 0600, 0);
}

/* tighten_dir applies tighten_at to dir's entries, and one level into
 * objects/. */
static int tighten_dir(int dfd, int depth)
{
	int fd = dup(dfd);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	if (d == NULL) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	int rc = 0;
	struct dirent *de;
	while (rc == 0 && (de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		rc = tighten_at(dirfd(d), de->d_name);
		if (rc == 0 && depth == 0 && strcmp(de->d_name, OBJ_DIR) == 0) {
			int od = openat(dirfd(d), OBJ_DIR, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
			rc = od >= 0 ? tighten_dir(od, 1) : errno == ENOENT ? 0 : -1;
			if (od >= 0)
				close(od);
		}
	}
	closedir(d);
	return rc;
}

int store_secure(const char *dir)
{
	/* A token directory may be a symbolic link (to a USB stick, say):
	 * what counts is the directory it names. */
	int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	struct stat sb;
	if (dfd < 0 || fstat(dfd, &sb) != 0) {
		if (dfd >= 0)
			close(dfd);
		return -1;
	}
	int rc = 0;
	if (sb.st_mode & 077)
		rc = sb.st_uid == geteuid() ? fchmod(dfd, 0700) : -1;
	if (rc == 0)
		rc = tighten_dir(dfd, 0);
	close(dfd);
	return rc;
}

int store_secure_root(const char *dir)
{
	struct stat sb;
	if (stat(dir, &sb) != 0)
		return -1;
	if ((sb.st_mode & 077) == 0)
		return 0;
	if (sb.st_uid == geteuid())
		return chmod(dir, 0700);
	/* Someone else's base directory (a service's, say root's 0755) may
	 * show the token names; one that others may write to lets them plant
	 * or swap tokens. */
	return sb.st_mode & 022 ? -1 : 0;
}

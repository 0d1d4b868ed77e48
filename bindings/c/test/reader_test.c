/*
 * Tests of bindings/c/mmsb_reader.h against a live Go writer
 * (internal/cmd/shmwriter) and against regions written by the test.
 *
 *   reader_test SHMWRITER_BINARY WORK_DIR [TORTURE_SECONDS]
 *
 * WORK_DIR must be on tmpfs (it holds the bus and the shared regions).
 * Prints "ok <case>" per case and "ALL PASS <n>" at the end; exits 1 on the
 * first failure (the Go harness, bindings_test.go, requires the ALL PASS
 * line with the expected count, so a binary that runs nothing fails).
 */
#include "../mmsb_reader.h"

#include <signal.h>
#include <sys/wait.h>

static const char *writer_bin, *work;
static double torture_seconds = 2;
static int passed;

#define CHECK(cond)                                                                                     \
	do {                                                                                            \
		if (!(cond)) {                                                                          \
			fprintf(stderr, "FAIL %s:%d: %s (last error: %s)\n", __FILE__, __LINE__, #cond, mmsb_reader_errmsg()); \
			exit(1);                                                                        \
		}                                                                                       \
	} while (0)
#define CHECK_RC(expr, want)                                                                          \
	do {                                                                                          \
		int rc_ = (expr);                                                                     \
		if (rc_ != (want)) {                                                                  \
			fprintf(stderr, "FAIL %s:%d: %s = %d (%s), want %d (%s); message: %s\n", __FILE__, __LINE__, #expr, \
			        rc_, mmsb_reader_strerror(rc_), (want), mmsb_reader_strerror(want), mmsb_reader_errmsg());   \
			exit(1);                                                                      \
		}                                                                                     \
	} while (0)

static void ok(const char *name) {
	printf("ok %s\n", name);
	fflush(stdout);
	passed++;
}

/* ---- the writer process ------------------------------------------------ */

typedef struct writer {
	pid_t pid;
	FILE *out;
	int in;
	char region[PATH_MAX];
	uint64_t first, pages, lsn;
} writer;

static void start_writer(writer *w, const char *bus, const char *mode, int churn) {
	int inp[2], outp[2];
	char line[PATH_MAX + 256];
	pid_t pid;
	CHECK(pipe(inp) == 0 && pipe(outp) == 0);
	pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		dup2(inp[0], 0), dup2(outp[1], 1);
		close(inp[0]), close(inp[1]), close(outp[0]), close(outp[1]);
		execl(writer_bin, writer_bin, "-dir", bus, "-shm", work, "-mode", mode, "-pages", "64", "-stdin",
		      churn ? "-churn" : "-size", churn ? (char *)NULL : "1024", (char *)NULL);
		_exit(127);
	}
	close(inp[0]), close(outp[1]);
	w->pid = pid, w->in = inp[1], w->out = fdopen(outp[0], "r");
	CHECK(w->out != NULL);
	CHECK(fgets(line, sizeof line, w->out) != NULL);
	{
		unsigned long long first, pages, lsn;
		int wpid;
		CHECK(sscanf(line, "READY pid=%d region=%s first=%llu pages=%llu lsn=%llu", &wpid, w->region, &first, &pages, &lsn) == 5);
		CHECK(wpid == pid);
		w->first = first, w->pages = pages, w->lsn = lsn;
	}
}

static void stop_writer(writer *w) {
	int st;
	close(w->in);
	CHECK(waitpid(w->pid, &st, 0) == w->pid && WIFEXITED(st) && WEXITSTATUS(st) == 0);
	fclose(w->out);
}

static void kill_writer(writer *w) {
	int st;
	kill(w->pid, SIGKILL);
	CHECK(waitpid(w->pid, &st, 0) == w->pid);
	close(w->in);
	fclose(w->out);
}

static long torn_at(const unsigned char *b, size_t n) {
	size_t i;
	for (i = 8; i + 8 <= n; i += 8)
		if (memcmp(b, b + i, 8) != 0)
			return (long)i;
	return -1;
}

static uint64_t word0(const unsigned char *b) {
	uint64_t v;
	memcpy(&v, b, 8);
	return v;
}

/* ---- cases -------------------------------------------------------------- */

static void test_invalid_arguments(void) {
	mmsb_reader *r = NULL;
	unsigned char buf[16];
	size_t n;
	uint64_t l, ids[2];
	char path[16];
	void *bufs[1] = {buf};
	size_t caps[1] = {16}, sizes[1];

	CHECK_RC(mmsb_reader_open(NULL, NULL, NULL, &r), MMSB_READER_ERR_INVALID);
	CHECK(strstr(mmsb_reader_errmsg(), "invalid") != NULL);
	CHECK_RC(mmsb_reader_open("/x", NULL, NULL, NULL), MMSB_READER_ERR_INVALID);
	CHECK_RC(mmsb_reader_open("", NULL, NULL, &r), MMSB_READER_ERR_INVALID);
	CHECK_RC(mmsb_reader_open_region(NULL, NULL, &r), MMSB_READER_ERR_INVALID);
	CHECK_RC(mmsb_reader_open_region("/nonexistent/mmsb-region", NULL, &r), MMSB_READER_ERR_WRITER_GONE);
	CHECK(r == NULL);
	CHECK_RC(mmsb_reader_open("/nonexistent/bus", work, NULL, &r), MMSB_READER_ERR_WRITER_GONE);
	CHECK_RC(mmsb_reader_region_path("/x", NULL, path, sizeof path), MMSB_READER_ERR_TOO_SMALL);
	CHECK_RC(mmsb_reader_region_path(NULL, NULL, path, sizeof path), MMSB_READER_ERR_INVALID);
	CHECK_RC(mmsb_reader_region_path("/x", NULL, NULL, 0), MMSB_READER_ERR_INVALID);
	CHECK_RC(mmsb_reader_read(NULL, 1, buf, sizeof buf, &n, NULL), MMSB_READER_ERR_INVALID);
	CHECK_RC(mmsb_reader_last_lsn(NULL, &l), MMSB_READER_ERR_INVALID);
	CHECK_RC(mmsb_reader_wait(NULL, 0, 0, &l), MMSB_READER_ERR_INVALID);
	CHECK_RC(mmsb_reader_pages(NULL, ids, 2, &n), MMSB_READER_ERR_INVALID);
	CHECK_RC(mmsb_reader_snapshot(NULL, ids, 1, bufs, caps, sizes, NULL, &l), MMSB_READER_ERR_INVALID);
	CHECK_RC(mmsb_reader_info(NULL, NULL, NULL, NULL), MMSB_READER_ERR_INVALID);
	mmsb_reader_close(NULL);
	mmsb_reader_close(&r); /* r is NULL */
	CHECK(strcmp(mmsb_reader_strerror(MMSB_READER_ERR_STALE), "unknown status") != 0);
	CHECK(strcmp(mmsb_reader_strerror(12345), "unknown status") == 0);
	ok("invalid_arguments");
}

static void test_sha256(void) {
	unsigned char d[32];
	static const unsigned char abc[32] = {0xba, 0x78, 0x16, 0xbf, 0x8f, 0x01, 0xcf, 0xea, 0x41, 0x41, 0x40, 0xde, 0x5d, 0xae, 0x22, 0x23,
	                                      0xb0, 0x03, 0x61, 0xa3, 0x96, 0x17, 0x7a, 0x9c, 0xb4, 0x10, 0xff, 0x61, 0xf2, 0x00, 0x15, 0xad};
	static const unsigned char two[32] = {0x24, 0x8d, 0x6a, 0x61, 0xd2, 0x06, 0x38, 0xb8, 0xe5, 0xc0, 0x26, 0x93, 0x0c, 0x3e, 0x60, 0x39,
	                                      0xa3, 0x3c, 0xe4, 0x59, 0x64, 0xff, 0x21, 0x67, 0xf6, 0xec, 0xed, 0xd4, 0x19, 0xdb, 0x06, 0xc1};
	mmsb_reader_sha256("abc", 3, d);
	CHECK(memcmp(d, abc, 32) == 0);
	mmsb_reader_sha256("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", 56, d); /* two blocks */
	CHECK(memcmp(d, two, 32) == 0);
	ok("sha256");
}

static void test_static_writer(void) {
	writer w;
	char bus[PATH_MAX], path[PATH_MAX];
	mmsb_reader *r = NULL;
	unsigned char buf[2048], small[100];
	uint64_t ids[128], l, i;
	size_t n, k;
	mmsb_reader_page_info info;

	snprintf(bus, sizeof bus, "%s/static-bus", work);
	start_writer(&w, bus, "static", 0);
	CHECK_RC(mmsb_reader_region_path(bus, work, path, sizeof path), MMSB_READER_OK);
	CHECK(strcmp(path, w.region) == 0); /* the same name as Go's SharedRegionPath */
	CHECK_RC(mmsb_reader_open(bus, work, NULL, &r), MMSB_READER_OK);
	CHECK_RC(mmsb_reader_last_lsn(r, &l), MMSB_READER_OK);
	CHECK(l == w.lsn);
	CHECK_RC(mmsb_reader_pages(r, NULL, 0, &n), MMSB_READER_ERR_TOO_SMALL);
	CHECK(n == w.pages);
	CHECK_RC(mmsb_reader_pages(r, ids, 3, &n), MMSB_READER_ERR_TOO_SMALL);
	CHECK_RC(mmsb_reader_pages(r, ids, 128, &n), MMSB_READER_OK);
	CHECK(n == w.pages);
	for (k = 0; k < n; k++) {
		CHECK(ids[k] == w.first + k);
		CHECK_RC(mmsb_reader_read(r, ids[k], buf, sizeof buf, &n, &info), MMSB_READER_OK);
		n = w.pages;
		CHECK(torn_at(buf, 1024) < 0 && word0(buf) == ids[k] && info.epoch == 1 && info.lsn <= l);
	}
	CHECK_RC(mmsb_reader_read(r, w.first, small, sizeof small, &n, NULL), MMSB_READER_ERR_TOO_SMALL);
	CHECK(n == 1024);
	CHECK_RC(mmsb_reader_read(r, w.first, NULL, 0, &n, NULL), MMSB_READER_ERR_TOO_SMALL); /* size query */
	CHECK(n == 1024);
	CHECK_RC(mmsb_reader_read(r, w.first, NULL, 10, &n, NULL), MMSB_READER_ERR_INVALID);
	CHECK_RC(mmsb_reader_read(r, w.first, buf, sizeof buf, NULL, NULL), MMSB_READER_ERR_INVALID);
	CHECK_RC(mmsb_reader_read(r, 0, buf, sizeof buf, &n, NULL), MMSB_READER_ERR_NOT_FOUND);
	CHECK_RC(mmsb_reader_read(r, 99999, buf, sizeof buf, &n, NULL), MMSB_READER_ERR_NOT_FOUND);
	CHECK_RC(mmsb_reader_last_lsn(r, NULL), MMSB_READER_ERR_INVALID);
	CHECK_RC(mmsb_reader_wait(r, l, 20000000, &i), MMSB_READER_ERR_TIMEOUT);
	CHECK_RC(mmsb_reader_wait(r, l - 1, 0, &i), MMSB_READER_OK);
	CHECK(i == l);
	{
		static unsigned char pages[64][1024];
		void *bufs[64];
		size_t caps[64], sizes[64];
		mmsb_reader_page_info infos[64];
		for (k = 0; k < 64; k++)
			bufs[k] = pages[k], caps[k] = 1024;
		CHECK_RC(mmsb_reader_snapshot(r, ids, 64, bufs, caps, sizes, infos, &i), MMSB_READER_OK);
		CHECK(i == l);
		for (k = 0; k < 64; k++)
			CHECK(sizes[k] == 1024 && word0(pages[k]) == ids[k] && infos[k].lsn <= i);
		caps[5] = 10;
		CHECK_RC(mmsb_reader_snapshot(r, ids, 64, bufs, caps, sizes, NULL, &i), MMSB_READER_ERR_TOO_SMALL);
		ids[3] = 99999;
		caps[5] = 1024;
		CHECK_RC(mmsb_reader_snapshot(r, ids, 64, bufs, caps, sizes, NULL, &i), MMSB_READER_ERR_NOT_FOUND);
		CHECK_RC(mmsb_reader_snapshot(r, ids, 64, NULL, caps, sizes, NULL, &i), MMSB_READER_ERR_INVALID);
		CHECK_RC(mmsb_reader_snapshot(r, NULL, 0, NULL, NULL, NULL, NULL, &i), MMSB_READER_OK); /* empty */
	}
	/* a fork child reads through the inherited reader */
	{
		pid_t c = fork();
		int st;
		CHECK(c >= 0);
		if (c == 0) {
			size_t m;
			_exit(mmsb_reader_read(r, w.first, buf, sizeof buf, &m, NULL) == MMSB_READER_OK && word0(buf) == w.first ? 0 : 1);
		}
		CHECK(waitpid(c, &st, 0) == c && WIFEXITED(st) && WEXITSTATUS(st) == 0);
	}
	mmsb_reader_close(&r);
	CHECK(r == NULL);
	CHECK_RC(mmsb_reader_read(r, w.first, buf, sizeof buf, &n, NULL), MMSB_READER_ERR_INVALID); /* use after close */
	CHECK_RC(mmsb_reader_open(bus, work, NULL, &r), MMSB_READER_OK);
	stop_writer(&w); /* clean close: state closed */
	CHECK_RC(mmsb_reader_read(r, w.first, buf, sizeof buf, &n, NULL), MMSB_READER_ERR_WRITER_GONE);
	CHECK(strstr(mmsb_reader_errmsg(), "closed the bus") != NULL);
	/* A snapshot of no pages reads none, yet must see the writer gone (it
	 * returned OK with the closed writer's last LSN, unlike Go and Python). */
	{
		uint64_t at = 0;
		CHECK_RC(mmsb_reader_snapshot(r, NULL, 0, NULL, NULL, NULL, NULL, &at), MMSB_READER_ERR_WRITER_GONE);
	}
	mmsb_reader_close(&r);
	CHECK_RC(mmsb_reader_open(bus, work, NULL, &r), MMSB_READER_ERR_WRITER_GONE);
	ok("static_writer");
}

static void test_torture(void) {
	writer w;
	char bus[PATH_MAX];
	mmsb_reader *r = NULL;
	unsigned char buf[1024];
	uint64_t ids[256], last, l, first_lsn;
	size_t n = 0, np = 0;
	long reads = 0, torn = 0, lsnback = 0, notfound = 0, snaps = 0, snapbusy = 0, snapbad = 0;
	int64_t end;
	unsigned seed = 1;

	snprintf(bus, sizeof bus, "%s/torture-bus", work);
	start_writer(&w, bus, "busy", 1);
	CHECK_RC(mmsb_reader_open(bus, work, NULL, &r), MMSB_READER_OK);
	CHECK_RC(mmsb_reader_last_lsn(r, &first_lsn), MMSB_READER_OK);
	last = first_lsn;
	end = mmsb_reader__now() + (int64_t)(torture_seconds * 1e9);
	while (mmsb_reader__now() < end) {
		int rc;
		if (np == 0 || rand_r(&seed) % 100 == 0)
			CHECK_RC(mmsb_reader_pages(r, ids, 256, &np), MMSB_READER_OK);
		if (rand_r(&seed) % 20 == 0) {
			static unsigned char pages[4][1024];
			void *bufs[4] = {pages[0], pages[1], pages[2], pages[3]};
			size_t caps[4] = {1024, 1024, 1024, 1024}, sizes[4];
			mmsb_reader_page_info infos[4];
			uint64_t pick[4], at = 0;
			int k;
			for (k = 0; k < 4; k++)
				pick[k] = ids[rand_r(&seed) % np];
			rc = mmsb_reader_snapshot(r, pick, 4, bufs, caps, sizes, infos, &at);
			if (rc == MMSB_READER_OK) {
				snaps++;
				for (k = 0; k < 4; k++) {
					torn += torn_at(pages[k], sizes[k]) >= 0;
					snapbad += infos[k].lsn > at;
				}
			} else if (rc == MMSB_READER_ERR_SNAPSHOT_BUSY) {
				snapbusy++;
			} else {
				CHECK_RC(rc, MMSB_READER_ERR_NOT_FOUND);
				notfound++;
			}
		} else {
			rc = mmsb_reader_read(r, ids[rand_r(&seed) % np], buf, sizeof buf, &n, NULL);
			if (rc == MMSB_READER_OK) {
				reads++;
				torn += torn_at(buf, n) >= 0;
			} else {
				CHECK_RC(rc, MMSB_READER_ERR_NOT_FOUND); /* freed by the churn */
				notfound++;
			}
		}
		CHECK_RC(mmsb_reader_last_lsn(r, &l), MMSB_READER_OK);
		lsnback += l < last;
		last = l;
	}
	CHECK_RC(mmsb_reader_wait(r, last, 10000000000LL, &l), MMSB_READER_OK);
	CHECK(l > last);
	{
		uint64_t retries = 0;
		CHECK_RC(mmsb_reader_info(r, NULL, NULL, &retries), MMSB_READER_OK);
		printf("c torture: reads=%ld snaps=%ld snapbusy=%ld notfound=%ld torn=%ld lsnback=%ld snapbad=%ld retries=%llu lsn %llu -> %llu\n",
		       reads, snaps, snapbusy, notfound, torn, lsnback, snapbad, (unsigned long long)retries,
		       (unsigned long long)first_lsn, (unsigned long long)last);
	}
	CHECK(torn == 0 && lsnback == 0 && snapbad == 0);
	CHECK(last > first_lsn && reads > 1000);
	mmsb_reader_close(&r);
	stop_writer(&w);
	ok("torture");
}

/* The writer grows its slot arrays past the first reservation (16 Ki
 * slots) and maps new chunks while the reader is open. */
static void test_growth(void) {
	writer w;
	char bus[PATH_MAX], line[256];
	mmsb_reader *r = NULL;
	static uint64_t ids[32768];
	unsigned char buf[1024];
	unsigned long long pages = 0, glsn = 0;
	uint64_t l = 0;
	size_t n = 0, k, size = 0;

	snprintf(bus, sizeof bus, "%s/grow-bus", work);
	start_writer(&w, bus, "static", 0);
	CHECK_RC(mmsb_reader_open(bus, work, NULL, &r), MMSB_READER_OK);
	CHECK_RC(mmsb_reader_read(r, w.first, buf, sizeof buf, &size, NULL), MMSB_READER_OK);
	CHECK(write(w.in, "grow\n", 5) == 5);
	CHECK(fgets(line, sizeof line, w.out) != NULL);
	CHECK(sscanf(line, "GROWN pages=%llu lsn=%llu", &pages, &glsn) == 2);
	CHECK_RC(mmsb_reader_wait(r, w.lsn, 10000000000LL, &l), MMSB_READER_OK);
	CHECK(l >= glsn);
	CHECK_RC(mmsb_reader_pages(r, ids, sizeof ids / sizeof ids[0], &n), MMSB_READER_OK);
	CHECK(n == pages && n > 16384);
	for (k = 0; k < n; k += (k + 97 < n ? 97 : 1)) {
		CHECK_RC(mmsb_reader_read(r, ids[k], buf, sizeof buf, &size, NULL), MMSB_READER_OK);
		CHECK(size == 1024 && torn_at(buf, size) < 0 && word0(buf) == ids[k]);
	}
	CHECK(r->slots > 16384 && r->nchunks > 1);
	mmsb_reader_close(&r);
	stop_writer(&w);
	ok("growth");
}

static void test_killed_and_restarted(void) {
	writer w, w2;
	char bus[PATH_MAX];
	mmsb_reader *r = NULL, *old = NULL;
	unsigned char buf[1024];
	size_t n;
	uint64_t gen = 0, gen2 = 0, l = 0;
	int rc;
	int64_t end;

	snprintf(bus, sizeof bus, "%s/kill-bus", work);
	start_writer(&w, bus, "busy", 0);
	CHECK_RC(mmsb_reader_open(bus, work, NULL, &r), MMSB_READER_OK);
	CHECK_RC(mmsb_reader_open(bus, work, NULL, &old), MMSB_READER_OK);
	CHECK_RC(mmsb_reader_read(r, w.first, buf, sizeof buf, &n, NULL), MMSB_READER_OK);
	CHECK_RC(mmsb_reader_info(old, &gen, NULL, NULL), MMSB_READER_OK);
	kill_writer(&w);
	end = mmsb_reader__now() + 5000000000LL;
	do
		rc = mmsb_reader_read(r, w.first, buf, sizeof buf, &n, NULL);
	while (rc == MMSB_READER_OK && mmsb_reader__now() < end);
	CHECK_RC(rc, MMSB_READER_ERR_WRITER_GONE);
	CHECK_RC(mmsb_reader_wait(r, UINT64_MAX - 1, 1000000000, &l), MMSB_READER_ERR_WRITER_GONE); /* sticky */
	mmsb_reader_close(&r);
	/* old made no call since the kill: it sees the new writer's mark */
	start_writer(&w2, bus, "busy", 0);
	CHECK_RC(mmsb_reader_read(old, w.first, buf, sizeof buf, &n, NULL), MMSB_READER_ERR_STALE);
	CHECK_RC(mmsb_reader_pages(old, NULL, 0, &n), MMSB_READER_ERR_STALE);
	CHECK_RC(mmsb_reader_snapshot(old, NULL, 0, NULL, NULL, NULL, NULL, &l), MMSB_READER_ERR_STALE);
	mmsb_reader_close(&old);
	CHECK_RC(mmsb_reader_open(bus, work, NULL, &r), MMSB_READER_OK);
	CHECK_RC(mmsb_reader_info(r, &gen2, NULL, NULL), MMSB_READER_OK);
	CHECK(gen2 != gen);
	CHECK_RC(mmsb_reader_read(r, w.first, buf, sizeof buf, &n, NULL), MMSB_READER_OK);
	mmsb_reader_close(&r);
	stop_writer(&w2);
	ok("killed_and_restarted");
}

/* A region written by the test: a copy of a live writer's files with the
 * header replaced. */
static void write_file(const char *dir, const char *name, const void *b, size_t n) {
	char p[2 * PATH_MAX];
	int fd;
	snprintf(p, sizeof p, "%s/%s", dir, name);
	fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	CHECK(fd >= 0);
	CHECK(n == 0 || write(fd, b, n) == (ssize_t)n);
	close(fd);
}

static void test_bad_headers(void) {
	writer w;
	char bus[PATH_MAX], dir[PATH_MAX], p[PATH_MAX + 64];
	unsigned char good[4096], b[4096];
	mmsb_reader *r = NULL;
	int fd, i, formats = 0, oks = 0;
	unsigned seed = 7;
	static const char *names[] = {"chunks", "ids", "vers", "cells", "seq"};

	snprintf(bus, sizeof bus, "%s/hdr-bus", work);
	start_writer(&w, bus, "static", 0);
	snprintf(p, sizeof p, "%s/header", w.region);
	fd = open(p, O_RDONLY);
	CHECK(fd >= 0 && read(fd, good, sizeof good) == (ssize_t)sizeof good);
	close(fd);
	CHECK_RC(mmsb_reader_decode_header(good, sizeof good), MMSB_READER_OK);
	snprintf(dir, sizeof dir, "%s/fake-region", work);
	CHECK(mkdir(dir, 0700) == 0);
	for (i = 0; i < 5; i++) {
		char src[2 * PATH_MAX], dst[2 * PATH_MAX];
		snprintf(src, sizeof src, "%s/%s", w.region, names[i]);
		snprintf(dst, sizeof dst, "%s/%s", dir, names[i]);
		CHECK(link(src, dst) == 0);
	}
	/* bad magic, version, truncation */
	memcpy(b, good, sizeof b);
	b[0] ^= 1;
	write_file(dir, "header", b, sizeof b);
	CHECK_RC(mmsb_reader_open_region(dir, NULL, &r), MMSB_READER_ERR_FORMAT);
	CHECK(strstr(mmsb_reader_errmsg(), "bad magic") != NULL && r == NULL);
	memcpy(b, good, sizeof b);
	b[8] = 2;
	write_file(dir, "header", b, sizeof b);
	CHECK_RC(mmsb_reader_open_region(dir, NULL, &r), MMSB_READER_ERR_FORMAT);
	CHECK(strstr(mmsb_reader_errmsg(), "format version 2") != NULL);
	write_file(dir, "header", good, 100);
	CHECK_RC(mmsb_reader_open_region(dir, NULL, &r), MMSB_READER_ERR_FORMAT);
	write_file(dir, "header", good, 0);
	CHECK_RC(mmsb_reader_open_region(dir, NULL, &r), MMSB_READER_ERR_FORMAT);
	write_file(dir, "header", good, sizeof good);
	CHECK_RC(mmsb_reader_open_region(dir, NULL, &r), MMSB_READER_OK); /* control: the copy itself opens */
	mmsb_reader_close(&r);
	/* a region with no live page: asking for the count (NULL array,
	 * capacity 0) gives 0, with no NULL pointer passed on to qsort
	 * (UBSan aborts on that) */
	{
		size_t n = 99;
		memcpy(b, good, sizeof b);
		memset(b + MMSB_READER__H_HW, 0, 8);
		memset(b + MMSB_READER__H_LIVE, 0, 8);
		write_file(dir, "header", b, sizeof b);
		CHECK_RC(mmsb_reader_open_region(dir, NULL, &r), MMSB_READER_OK);
		CHECK_RC(mmsb_reader_pages(r, NULL, 0, &n), MMSB_READER_OK);
		CHECK(n == 0);
		mmsb_reader_close(&r);
	}
	/* fuzz-ish: random, mutated and truncated headers never crash */
	for (i = 0; i < 3000; i++) {
		size_t n = sizeof b;
		int k;
		memcpy(b, good, sizeof b);
		switch (i % 3) {
		case 0:
			for (k = 0; k < 128; k++)
				b[k] = (unsigned char)rand_r(&seed);
			break;
		case 1:
			for (k = 0; k < 1 + (int)(rand_r(&seed) % 4); k++)
				b[rand_r(&seed) % 128] = (unsigned char)rand_r(&seed);
			break;
		default:
			n = rand_r(&seed) % (sizeof b + 1);
		}
		if (mmsb_reader_decode_header(b, n) == MMSB_READER_OK)
			oks++;
		else
			formats++;
		if (i % 20 == 0) {
			/* the copy has no chunk file: a read of a page retries until
			 * writer_timeout (test_unavailable_chunk), kept short here */
			mmsb_reader_options o = {1000000, 0, 0, 0};
			int rc;
			write_file(dir, "header", b, n);
			rc = mmsb_reader_open_region(dir, &o, &r);
			if (rc == MMSB_READER_OK) {
				unsigned char page[2048];
				size_t m;
				rc = mmsb_reader_read(r, w.first, page, sizeof page, &m, NULL);
				CHECK(rc <= 0);
				mmsb_reader_close(&r);
			}
			CHECK(rc == MMSB_READER_OK || rc == MMSB_READER_ERR_FORMAT || rc == MMSB_READER_ERR_WRITER_GONE || rc == MMSB_READER_ERR_STALE ||
			      rc == MMSB_READER_ERR_NOT_FOUND);
		}
	}
	CHECK(formats > 0 && oks > 0);
	CHECK_RC(mmsb_reader_decode_header(NULL, 0), MMSB_READER_ERR_FORMAT);
	stop_writer(&w);
	ok("bad_headers");
}

/* A region copied from a live writer's: its slot files and chunk table
 * linked, its header a copy (written by the test), no chunk file. */
static void fake_region(const writer *w, const char *dir, unsigned char hdr[4096]) {
	static const char *names[] = {"chunks", "ids", "vers", "cells", "seq"};
	char p[PATH_MAX + 64];
	int fd, i;
	snprintf(p, sizeof p, "%s/header", w->region);
	fd = open(p, O_RDONLY);
	CHECK(fd >= 0 && read(fd, hdr, 4096) == 4096);
	close(fd);
	CHECK(mkdir(dir, 0700) == 0);
	for (i = 0; i < 5; i++) {
		char src[2 * PATH_MAX], dst[2 * PATH_MAX];
		snprintf(src, sizeof src, "%s/%s", w->region, names[i]);
		snprintf(dst, sizeof dst, "%s/%s", dir, names[i]);
		CHECK(link(src, dst) == 0);
	}
	write_file(dir, "header", hdr, 4096);
}

/* A page whose chunk is unavailable (unpublished, or its file gone) while
 * its slot's sequence word has not moved is retried, not a format error
 * (it was one at once): the writer releases a large page's chunk before
 * the free moves the word, and its Close releases every chunk without
 * moving any. The read ends when the writer goes on (here the header says
 * closed) with WRITER_GONE; a chunk that stays unavailable gives FORMAT
 * after writer_timeout, never an endless retry. */
static void test_unavailable_chunk(void) {
	writer w;
	char bus[PATH_MAX], dir[PATH_MAX], hp[PATH_MAX + 16];
	unsigned char hdr[4096], buf[2048];
	mmsb_reader *r = NULL;
	mmsb_reader_options o;
	size_t n;
	int64_t t;
	pid_t c;
	int st;

	snprintf(bus, sizeof bus, "%s/chunk-bus", work);
	start_writer(&w, bus, "static", 0);
	snprintf(dir, sizeof dir, "%s/chunk-region", work);
	fake_region(&w, dir, hdr); /* the page's chunk file is not there */
	snprintf(hp, sizeof hp, "%s/header", dir);
	memset(&o, 0, sizeof o);
	o.writer_timeout_ns = 10000000000LL;
	CHECK_RC(mmsb_reader_open_region(dir, &o, &r), MMSB_READER_OK);
	c = fork();
	CHECK(c >= 0);
	if (c == 0) { /* 50 ms later the writer has closed */
		uint64_t closed = MMSB_READER__STATE_CLOSED;
		int fd = open(hp, O_WRONLY);
		mmsb_reader__sleep_ns(50000000);
		_exit(fd >= 0 && pwrite(fd, &closed, 8, MMSB_READER__H_STATE) == 8 ? 0 : 1);
	}
	t = mmsb_reader__now();
	CHECK_RC(mmsb_reader_read(r, w.first, buf, sizeof buf, &n, NULL), MMSB_READER_ERR_WRITER_GONE);
	CHECK(mmsb_reader__now() - t < 5000000000LL);
	CHECK(waitpid(c, &st, 0) == c && WIFEXITED(st) && WEXITSTATUS(st) == 0);
	mmsb_reader_close(&r);

	write_file(dir, "header", hdr, sizeof hdr); /* live again */
	o.writer_timeout_ns = 50000000;
	o.busy_timeout_ns = 10000000;
	CHECK_RC(mmsb_reader_open_region(dir, &o, &r), MMSB_READER_OK);
	t = mmsb_reader__now();
	CHECK_RC(mmsb_reader_read(r, w.first, buf, sizeof buf, &n, NULL), MMSB_READER_ERR_FORMAT);
	CHECK(strstr(mmsb_reader_errmsg(), "chunk stayed unavailable") != NULL);
	CHECK(mmsb_reader__now() - t < 5000000000LL);
	mmsb_reader_close(&r);
	stop_writer(&w);
	ok("unavailable_chunk");
}

/* What a reader maps must be a regular file (a FIFO hung the open), and
 * the region directory and its files must be owned by the owner of the
 * bus directory and writable by nobody else: region names are predictable
 * and anyone may create one in /dev/shm. The cases with other owners need
 * root (chown). */
static void test_region_files(void) {
	writer w;
	char bus[PATH_MAX], dir[PATH_MAX], other[PATH_MAX], link_[PATH_MAX], p[PATH_MAX + 16], want[3 * PATH_MAX];
	mmsb_reader *r = NULL;
	struct stat st;
	int i;
	static const struct {
		const char *name;
		mode_t mode;
	} modes[] = {{"", 0770}, {"", 0702}, {"header", 0620}, {"chunks", 0602}, {"seq", 0660}};

	snprintf(dir, sizeof dir, "%s/fifo-region", work);
	CHECK(mkdir(dir, 0700) == 0);
	snprintf(p, sizeof p, "%s/header", dir);
	CHECK(mkfifo(p, 0600) == 0);
	alarm(10); /* a hang guard, not a timing check: the blocked open dies with SIGALRM */
	CHECK_RC(mmsb_reader_open_region(dir, NULL, &r), MMSB_READER_ERR_FORMAT);
	alarm(0);
	CHECK(strstr(mmsb_reader_errmsg(), "not a regular file") != NULL);

	snprintf(bus, sizeof bus, "%s/owner-bus", work);
	start_writer(&w, bus, "static", 0);
	/* A region file that is a symbolic link (to another region's header)
	 * is refused, not followed: fstat saw the target, a regular file. */
	snprintf(dir, sizeof dir, "%s/linked-region", work);
	CHECK(mkdir(dir, 0700) == 0);
	snprintf(p, sizeof p, "%s/header", dir);
	snprintf(want, sizeof want, "%s/header", w.region);
	CHECK(symlink(want, p) == 0);
	CHECK_RC(mmsb_reader_open_region(dir, NULL, &r), MMSB_READER_ERR_FORMAT);
	CHECK(strstr(mmsb_reader_errmsg(), "is a symbolic link, not a regular file") != NULL);
	for (i = 0; i < 5; i++) {
		snprintf(p, sizeof p, "%s%s%s", w.region, modes[i].name[0] ? "/" : "", modes[i].name);
		CHECK(stat(p, &st) == 0 && chmod(p, modes[i].mode) == 0);
		CHECK_RC(mmsb_reader_open(bus, work, NULL, &r), MMSB_READER_ERR_FORMAT);
		snprintf(want, sizeof want, "%s (owner uid %lu, expected uid %lu) is writable by group or others", p, (unsigned long)geteuid(),
		         (unsigned long)geteuid());
		CHECK(strstr(mmsb_reader_errmsg(), want) != NULL);
		CHECK(chmod(p, st.st_mode & 07777) == 0);
	}
	CHECK_RC(mmsb_reader_open(bus, work, NULL, &r), MMSB_READER_OK); /* control */
	mmsb_reader_close(&r);

	/* a link planted under another bus's region name, to this region */
	snprintf(other, sizeof other, "%s/other-bus", work);
	CHECK(mkdir(other, 0700) == 0);
	CHECK_RC(mmsb_reader_region_path(other, work, p, sizeof p), MMSB_READER_OK);
	CHECK(symlink(w.region, p) == 0);
	CHECK_RC(mmsb_reader_open(other, work, NULL, &r), MMSB_READER_ERR_FORMAT);
	CHECK(strstr(mmsb_reader_errmsg(), "is not a directory") != NULL);

	if (geteuid() == 0) {
		const uid_t them = 65534;
		static const char *names[] = {"", "header", "ids"};
		/* a region the bus directory's owner does not own (here the bus
		 * directory changes hands instead) */
		CHECK(chown(bus, them, them) == 0);
		CHECK_RC(mmsb_reader_open(bus, work, NULL, &r), MMSB_READER_ERR_FORMAT);
		snprintf(want, sizeof want, "%s is owned by uid 0, expected uid %lu", w.region, (unsigned long)them);
		CHECK(strstr(mmsb_reader_errmsg(), want) != NULL);
		CHECK(chown(bus, 0, 0) == 0);
		for (i = 0; i < 3; i++) {
			snprintf(p, sizeof p, "%s%s%s", w.region, names[i][0] ? "/" : "", names[i]);
			CHECK(chown(p, them, them) == 0);
			CHECK_RC(mmsb_reader_open(bus, work, NULL, &r), MMSB_READER_ERR_FORMAT);
			snprintf(want, sizeof want, "%s is owned by uid %lu, expected uid 0", p, (unsigned long)them);
			CHECK(strstr(mmsb_reader_errmsg(), want) != NULL);
			CHECK(chown(p, 0, 0) == 0);
		}
		/* control: the owner of a link naming the bus does not count */
		snprintf(link_, sizeof link_, "%s/owner-link", work);
		CHECK(symlink(bus, link_) == 0 && lchown(link_, them, them) == 0);
		CHECK_RC(mmsb_reader_open(link_, work, NULL, &r), MMSB_READER_OK);
		mmsb_reader_close(&r);
	} else {
		printf("region_files: not root, the cases with other owners skipped\n");
	}
	stop_writer(&w);
	ok("region_files");
}

int main(int argc, char **argv) {
	if (argc < 3) {
		fprintf(stderr, "usage: %s SHMWRITER WORK_DIR [TORTURE_SECONDS]\n", argv[0]);
		return 2;
	}
	writer_bin = argv[1], work = argv[2];
	if (argc > 3)
		torture_seconds = atof(argv[3]);
	signal(SIGPIPE, SIG_IGN);
	test_invalid_arguments();
	test_sha256();
	test_static_writer();
	test_torture();
	test_growth();
	test_killed_and_restarted();
	test_bad_headers();
	test_unavailable_chunk();
	test_region_files();
	printf("ALL PASS %d\n", passed);
	return 0;
}

/*
 * A child of tests/bindings (reader_damage_test.go): it reads pages with
 * mmsb_reader.h while the Go test plays the writer and damages or
 * replaces the region under it, one step at a time.
 *
 *   reader_damage_child REGION_DIR WRITER_TIMEOUT_NS
 *
 * Opens the region directory REGION_DIR (mmsb_reader_open_region) and
 * prints "open". Then, for each line on stdin, prints one line:
 *   "read ID"  -> "ok SIZE HEX" (the page's bytes, in hex) or
 *                 "error CODE MESSAGE"
 *   "reopen"   -> closes the reader and opens REGION_DIR again: "open" or
 *                 "error CODE MESSAGE"
 * Exits 0 at the end of stdin.
 */
#include "../mmsb_reader.h"

enum { PAGE_CAP = 4096 };

int main(int argc, char **argv) {
	static unsigned char page[PAGE_CAP];
	static char hex[2 * PAGE_CAP + 1];
	mmsb_reader_options o;
	mmsb_reader *r = NULL;
	char line[256];
	int rc;
	if (argc != 3) {
		fprintf(stderr, "usage: reader_damage_child REGION_DIR WRITER_TIMEOUT_NS\n");
		return 2;
	}
	memset(&o, 0, sizeof o);
	o.writer_timeout_ns = strtoll(argv[2], NULL, 10);
	if ((rc = mmsb_reader_open_region(argv[1], &o, &r)) != MMSB_READER_OK) {
		printf("error %d open: %s\n", rc, mmsb_reader_errmsg());
		return 1;
	}
	printf("open\n");
	fflush(stdout);
	while (fgets(line, sizeof line, stdin) != NULL) {
		unsigned long long id;
		if (strcmp(line, "reopen\n") == 0) {
			mmsb_reader_close(&r);
			if ((rc = mmsb_reader_open_region(argv[1], &o, &r)) != MMSB_READER_OK)
				printf("error %d open: %s\n", rc, mmsb_reader_errmsg());
			else
				printf("open\n");
		} else if (sscanf(line, "read %llu", &id) == 1) {
			size_t n = 0, i;
			rc = mmsb_reader_read(r, id, page, sizeof page, &n, NULL);
			if (rc != MMSB_READER_OK) {
				printf("error %d %s\n", rc, mmsb_reader_errmsg());
			} else {
				for (i = 0; i < n; i++)
					snprintf(hex + 2 * i, 3, "%02x", page[i]);
				hex[2 * n] = '\0';
				printf("ok %zu %s\n", n, hex);
			}
		} else {
			printf("error 0 unknown command: %s", line);
		}
		fflush(stdout);
	}
	mmsb_reader_close(&r);
	return 0;
}

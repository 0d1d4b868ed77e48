/*
 * A child of tests/bindings (snapshot_free_test.go): it takes snapshots
 * with mmsb_reader_snapshot while the Go test plays the writer, so the
 * test can stop the writer between a commit's operations and the
 * publication of its LSN, which a real writer process cannot be made to
 * do.
 *
 *   snapshot_child BUS_DIR SHARED_DIR WRITER_TIMEOUT_NS
 *
 * Opens the reader of the bus in BUS_DIR and prints "open". Then, for each
 * line "snap ID ID ..." on stdin, prints one line: "ok LSN" followed by
 * " ID:LSN:BYTE:SIZE" per page (its last-write LSN, its first byte and its
 * size), "not_found MESSAGE", "snapshot_busy MESSAGE" or "error CODE
 * MESSAGE". Exits 0 at the end of stdin.
 */
#include "../mmsb_reader.h"

enum { MAX_IDS = 16, PAGE_CAP = 4096 };

int main(int argc, char **argv) {
	static unsigned char data[MAX_IDS][PAGE_CAP];
	void *bufs[MAX_IDS];
	size_t caps[MAX_IDS], sizes[MAX_IDS];
	mmsb_reader_page_info infos[MAX_IDS];
	uint64_t ids[MAX_IDS], lsn;
	mmsb_reader_options o;
	mmsb_reader *r = NULL;
	char line[1024];
	int rc;
	size_t i;
	if (argc != 4) {
		fprintf(stderr, "usage: snapshot_child BUS_DIR SHARED_DIR WRITER_TIMEOUT_NS\n");
		return 2;
	}
	memset(&o, 0, sizeof o);
	o.writer_timeout_ns = strtoll(argv[3], NULL, 10);
	if ((rc = mmsb_reader_open(argv[1], argv[2], &o, &r)) != MMSB_READER_OK) {
		printf("error %d open: %s\n", rc, mmsb_reader_errmsg());
		return 1;
	}
	for (i = 0; i < MAX_IDS; i++)
		bufs[i] = data[i], caps[i] = PAGE_CAP;
	printf("open\n");
	fflush(stdout);
	while (fgets(line, sizeof line, stdin) != NULL) {
		size_t n = 0;
		char *p = line, *end;
		if (strncmp(line, "snap ", 5) != 0) {
			printf("error 0 unknown command: %s", line);
			fflush(stdout);
			continue;
		}
		p += 5;
		while (n < MAX_IDS) {
			unsigned long long v = strtoull(p, &end, 10);
			if (end == p)
				break;
			ids[n++] = v, p = end;
		}
		rc = mmsb_reader_snapshot(r, ids, n, bufs, caps, sizes, infos, &lsn);
		switch (rc) {
		case MMSB_READER_OK:
			printf("ok %llu", (unsigned long long)lsn);
			for (i = 0; i < n; i++)
				printf(" %llu:%llu:%u:%zu", (unsigned long long)ids[i], (unsigned long long)infos[i].lsn, data[i][0], sizes[i]);
			printf("\n");
			break;
		case MMSB_READER_ERR_NOT_FOUND:
			printf("not_found %s\n", mmsb_reader_errmsg());
			break;
		case MMSB_READER_ERR_SNAPSHOT_BUSY:
			printf("snapshot_busy %s\n", mmsb_reader_errmsg());
			break;
		default:
			printf("error %d %s\n", rc, mmsb_reader_errmsg());
		}
		fflush(stdout);
	}
	mmsb_reader_close(&r);
	return 0;
}

/*
 * Consistent 1 KiB copies per second with mmsb_reader.h, against a writer
 * that is already running (docs/bindings.md has the commands):
 *
 *   reader_bench BUS_DIR SHM_DIR [SECONDS]
 */
#include "../mmsb_reader.h"

int main(int argc, char **argv) {
	mmsb_reader *r = NULL;
	uint64_t ids[64], retries = 0;
	size_t n, np = 0, size;
	unsigned char buf[1 << 16];
	double seconds = argc > 3 ? atof(argv[3]) : 1;
	long ops = 0;
	int64_t t0, end;
	double load[3] = {0, 0, 0};
	int rc;

	if (argc < 3) {
		fprintf(stderr, "usage: %s BUS_DIR SHM_DIR [SECONDS]\n", argv[0]);
		return 2;
	}
	if ((rc = mmsb_reader_open(argv[1], argv[2], NULL, &r)) != MMSB_READER_OK) {
		fprintf(stderr, "%s\n", mmsb_reader_errmsg());
		return 1;
	}
	rc = mmsb_reader_pages(r, ids, 64, &np);
	if (rc != MMSB_READER_OK && rc != MMSB_READER_ERR_TOO_SMALL) {
		fprintf(stderr, "%s\n", mmsb_reader_errmsg());
		return 1;
	}
	if (np > 64)
		np = 64;
	t0 = mmsb_reader__now(), end = t0 + (int64_t)(seconds * 1e9);
	do {
		for (n = 0; n < np; n++) {
			rc = mmsb_reader_read(r, ids[n], buf, sizeof buf, &size, NULL);
			if (rc != MMSB_READER_OK && rc != MMSB_READER_ERR_NOT_FOUND) {
				fprintf(stderr, "%s\n", mmsb_reader_errmsg());
				return 1;
			}
		}
		ops += (long)np;
	} while (mmsb_reader__now() < end);
	mmsb_reader_info(r, NULL, NULL, &retries);
	if (getloadavg(load, 3) < 0)
		load[0] = -1;
	printf("load average %.2f %.2f %.2f\n", load[0], load[1], load[2]);
	printf("C mmsb_reader_read (1 KiB copy) %12.0f /s  (retries %llu)\n", ops / ((mmsb_reader__now() - t0) / 1e9),
	       (unsigned long long)retries);
	mmsb_reader_close(&r);
	return 0;
}

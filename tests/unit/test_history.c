/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The signal history ring and its CSV. */
#include "fixture.h"

#include <errno.h>
#include <sys/mman.h>
#include <unistd.h>

#include "config.h"
#include "history.h"
#include "signals.h"
#include "units.h"

/* Reads what fd got (a memfd) into a NUL-terminated malloc'd buffer. */
static char *slurp(int fd)
{
	off_t size = lseek(fd, 0, SEEK_END);
	char *buf = malloc((size_t)size + 1);

	assert_non_null(buf);
	assert_int_equal(pread(fd, buf, (size_t)size, 0), size);
	buf[size] = '\0';
	return buf;
}

static size_t count_lines(const char *s)
{
	size_t n = 0;

	for (; *s; s++)
		n += *s == '\n';
	return n;
}

static void test_rows(void **state)
{
	struct sg_config cfg;

	(void)state;
	sg_config_defaults(&cfg);
	/* 120s / 250ms + 1 */
	assert_int_equal(sg_history_rows(&cfg), 481);
	cfg.history_usec = 3600 * USEC_PER_SEC;
	assert_int_equal(sg_history_rows(&cfg), SG_HISTORY_ROWS_MAX);
	struct sg_history h;
	assert_int_equal(sg_history_init(&h, 4, 0), -EINVAL);
	assert_int_equal(sg_history_init(&h, 4, SG_HISTORY_ROWS_MAX + 1), -EINVAL);
}

static void test_ring_csv(void **state)
{
	struct sg_config cfg;
	struct sg_signal_table tab;
	struct sg_history h;
	const size_t rows = 5, pushes = 12;

	(void)state;
	sg_config_defaults(&cfg);
	assert_int_equal(sg_signal_table_init(&tab, &cfg, NULL, 0), 0);
	assert_int_equal(sg_history_init(&h, tab.nslots, rows), 0);

	double *values = calloc(tab.nslots, sizeof(double));
	assert_non_null(values);
	size_t io10 = sg_slot_psi(SG_PSI_IO, SG_PSI_SOME, SG_PSI_AVG10);
	size_t lag = sg_slot_misc(SG_MISC_LOOP_LAG);
	for (size_t i = 0; i < pushes; i++) {
		for (size_t s = 0; s < tab.nslots; s++)
			values[s] = NAN;
		values[io10] = (double)i + 0.5;
		/* Every other sample has a loop lag; the others leave it NaN. */
		if (i % 2 == 0)
			values[lag] = (double)i * 10;
		struct sg_sample sample = { .now_usec = 1000000 + i * 250000, .values = values,
					    .nvalues = tab.nslots };
		sg_history_push(&h, &sample);
	}
	assert_int_equal(h.count, rows);

	int fd = memfd_create("history", 0);
	assert_true(fd >= 0);
	assert_int_equal(sg_history_write_csv(&h, &tab, &cfg, fd), 0);
	char *csv = slurp(fd);
	close(fd);
	assert_int_equal(count_lines(csv), rows + 1);

	/* The header names every slot in order. */
	char *nl = strchr(csv, '\n');
	*nl = '\0';
	assert_true(strncmp(csv, "time_ms,psi.cpu.some.avg10,", 27) == 0);
	assert_non_null(strstr(csv, ",psi.io.some.avg10,"));
	assert_non_null(strstr(csv, ",loop.lag"));
	size_t commas = 0;
	for (char *p = csv; *p; p++)
		commas += *p == ',';
	assert_int_equal(commas, tab.nslots);

	/* The columns of io avg10 and loop.lag in each row. */
	char *line = nl + 1;
	for (size_t r = 0; r < rows; r++) {
		size_t i = pushes - rows + r; /* oldest first */
		char *end = strchr(line, '\n');
		char *fields[1024];
		size_t nf = 0;
		*end = '\0';
		for (char *p = line, *c;; p = c + 1) {
			assert_true(nf < 1024);
			fields[nf++] = p;
			c = strchr(p, ',');
			if (!c)
				break;
			*c = '\0';
		}
		assert_int_equal(nf, tab.nslots + 1);
		/* 250 ms apart, the newest at 0. */
		assert_int_equal(atoi(fields[0]), -(int)(rows - 1 - r) * 250);
		assert_near(strtod(fields[1 + io10], NULL), (double)i + 0.5, 1e-9);
		if (i % 2 == 0)
			assert_near(strtod(fields[1 + lag], NULL), (double)i * 10, 1e-9);
		else
			assert_string_equal(fields[1 + lag], "");
		assert_string_equal(fields[1], "");
		line = end + 1;
	}
	assert_string_equal(line, "");
	free(csv);

	/* A table of another size is refused. */
	struct sg_signal_table other = tab;
	other.nslots++;
	assert_int_equal(sg_history_write_csv(&h, &other, &cfg, 1), -EINVAL);

	free(values);
	sg_history_free(&h);
	sg_config_free(&cfg);
}

/* Fewer samples than rows: only those, and a sample shorter than the table is NaN-padded. */
static void test_partial(void **state)
{
	struct sg_config cfg;
	struct sg_signal_table tab;
	struct sg_history h;
	double v[2] = { 7, 8 };

	(void)state;
	sg_config_defaults(&cfg);
	assert_int_equal(sg_signal_table_init(&tab, &cfg, NULL, 0), 0);
	assert_int_equal(sg_history_init(&h, tab.nslots, 10), 0);
	int fd = memfd_create("history", 0);
	assert_true(fd >= 0);
	assert_int_equal(sg_history_write_csv(&h, &tab, &cfg, fd), 0);
	char *csv = slurp(fd);
	assert_int_equal(count_lines(csv), 1);
	free(csv);

	struct sg_sample sample = { .now_usec = 5000, .values = v, .nvalues = 2 };
	sg_history_push(&h, &sample);
	assert_int_equal(ftruncate(fd, 0), 0);
	assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
	assert_int_equal(sg_history_write_csv(&h, &tab, &cfg, fd), 0);
	csv = slurp(fd);
	close(fd);
	assert_int_equal(count_lines(csv), 2);
	char *row = strchr(csv, '\n') + 1;
	assert_true(strncmp(row, "0,7,8,,", 7) == 0);
	free(csv);
	sg_history_free(&h);
	sg_config_free(&cfg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rows),
		cmocka_unit_test(test_ring_csv),
		cmocka_unit_test(test_partial),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

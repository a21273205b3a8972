/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Captures taken in memory before acting and stored afterwards by the capture
 * writer thread: taking touches no disk, a busy or stuck disk never blocks the
 * caller, a full disk is an error of the store only. Real files, a real tmpfs. */
#include "fixture.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <pthread.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "bundle.h"
#include "capture.h"
#include "capture_writer.h"
#include "config.h"
#include "units.h"

struct fix {
	char tmp[64];
	char capdir[128];
	bool mounted;
	struct sg_config cfg;
};

/* A deferred finish that waits for a byte on a pipe, then leaves a file. */
struct gate {
	int pipe[2];
	int finished; /* how many finishes ran on a stored bundle */
	pthread_mutex_t lock;
};

static int gated_finish(int dirfd, void *data)
{
	struct gate *g = data;
	char byte;

	if (dirfd < 0)
		return 0;
	while (read(g->pipe[0], &byte, 1) < 0 && errno == EINTR)
		;
	int fd = openat(dirfd, "finished.txt", O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	close(fd);
	pthread_mutex_lock(&g->lock);
	g->finished++;
	pthread_mutex_unlock(&g->lock);
	return 0;
}

static int setup(void **state)
{
	static struct fix f;

	memset(&f, 0, sizeof(f));
	*state = &f;
	strcpy(f.tmp, "/tmp/sg-writer-XXXXXX");
	if (!mkdtemp(f.tmp))
		return -1;
	snprintf(f.capdir, sizeof(f.capdir), "%s/captures", f.tmp);
	sg_config_defaults(&f.cfg);
	sg_strlcpy(f.cfg.capture_dir, f.capdir, sizeof(f.cfg.capture_dir));
	f.cfg.capture_budget_usec = 50 * USEC_PER_MSEC;
	f.cfg.capture_keep = 50;
	return 0;
}

static int teardown(void **state)
{
	struct fix *f = *state;

	if (f->mounted)
		umount2(f->capdir, MNT_DETACH);
	sg_config_free(&f->cfg);
	fixture_remove_tree(f->tmp);
	return 0;
}

static struct sg_bundle *take(struct fix *f, const char *rule)
{
	struct sg_capture_input in = {
		.cfg = &f->cfg, .rule = rule, .job = NULL, .step = "capture", .reason = "test",
		.decision = "test: would apply \"capture\"", .dry_run = true, .proc_root = "/proc",
	};
	struct sg_bundle *b = NULL;
	double ms = -1;

	assert_int_equal(sg_capture_take(&in, &b, &ms), 0);
	assert_non_null(b);
	assert_true(ms >= 0);
	return b;
}

static void test_take_touches_no_disk(void **state)
{
	struct fix *f = *state;
	char stored[512], path[600];
	struct stat st;

	struct sg_bundle *b = take(f, "storm");
	/* Nothing under capture_dir yet, not even the directory. */
	assert_int_equal(stat(f->capdir, &st), -1);
	assert_int_equal(errno, ENOENT);
	char predicted[512];
	sg_strlcpy(predicted, sg_bundle_path(b), sizeof(predicted));
	assert_true(strncmp(predicted, f->capdir, strlen(f->capdir)) == 0);

	assert_int_equal(sg_bundle_store(b, stored, sizeof(stored)), 0);
	assert_string_equal(stored, predicted);
	assert_int_equal(stat(stored, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0700);
	snprintf(path, sizeof(path), "%s/tasks.txt", stored);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_true(st.st_size > 0);

	/* A second bundle of the same rule in the same second is told apart. */
	time_t t0 = time(NULL);
	b = take(f, "storm");
	if (time(NULL) == t0 && strncmp(sg_bundle_path(b), predicted, strlen(predicted)) == 0)
		assert_string_equal(sg_bundle_path(b) + strlen(predicted), "-2");
	assert_string_not_equal(sg_bundle_path(b), predicted);
	sg_bundle_free(b);
}

static void test_writer_queue(void **state)
{
	struct fix *f = *state;
	struct sg_capture_writer *w;
	struct gate g = { .lock = PTHREAD_MUTEX_INITIALIZER };
	char paths[SG_CAPTURE_QUEUE + 1][512], path[(SG_CAPTURE_QUEUE + 1) * 512 + 32];
	struct stat st;

	assert_int_equal(pipe(g.pipe), 0);
	assert_int_equal(sg_capture_writer_start(&w), 0);
	/* One bundle being stored (held at its finish), SG_CAPTURE_QUEUE waiting. */
	for (int i = 0; i <= SG_CAPTURE_QUEUE; i++) {
		struct sg_bundle *b = take(f, "queue");
		sg_strlcpy(paths[i], sg_bundle_path(b), sizeof(paths[i]));
		sg_bundle_defer(b, gated_finish, &g);
		uint64_t start = sg_now_usec();
		assert_int_equal(sg_capture_writer_submit(w, b), 0);
		assert_true(sg_now_usec() - start < USEC_PER_SEC);
		if (i == 0) /* wait until the writer holds the first one */
			for (int k = 0; k < 500; k++) {
				snprintf(path, sizeof(path), "%s/incident.json", paths[0]);
				if (stat(path, &st) == 0)
					break;
				usleep(10000);
			}
	}
	/* The queue is full: the next is refused at once, and freed. */
	struct sg_bundle *extra = take(f, "queue");
	char extra_path[512];
	sg_strlcpy(extra_path, sg_bundle_path(extra), sizeof(extra_path));
	assert_int_equal(sg_capture_writer_submit(w, extra), -EBUSY);

	for (int i = 0; i <= SG_CAPTURE_QUEUE; i++)
		assert_int_equal(write(g.pipe[1], "x", 1), 1);
	sg_capture_writer_stop(w, 10 * USEC_PER_SEC);
	assert_int_equal(g.finished, SG_CAPTURE_QUEUE + 1);
	for (int i = 0; i <= SG_CAPTURE_QUEUE; i++) {
		snprintf(path, sizeof(path), "%s/finished.txt", paths[i]);
		assert_int_equal(stat(path, &st), 0);
		snprintf(path, sizeof(path), "%s/incident.json", paths[i]);
		assert_int_equal(stat(path, &st), 0);
	}
	assert_int_equal(stat(extra_path, &st), -1);
	close(g.pipe[0]);
	close(g.pipe[1]);
}

static void test_writer_stuck(void **state)
{
	struct fix *f = *state;
	struct sg_capture_writer *w;
	static struct gate g = { .lock = PTHREAD_MUTEX_INITIALIZER };

	assert_int_equal(pipe(g.pipe), 0);
	assert_int_equal(sg_capture_writer_start(&w), 0);
	struct sg_bundle *b = take(f, "stuck");
	sg_bundle_defer(b, gated_finish, &g);
	assert_int_equal(sg_capture_writer_submit(w, b), 0);
	/* A store that never ends does not hold up the stop beyond its timeout. */
	uint64_t start = sg_now_usec();
	sg_capture_writer_stop(w, 300 * USEC_PER_MSEC);
	uint64_t took = sg_now_usec() - start;
	assert_true(took >= 250 * USEC_PER_MSEC);
	assert_true(took < 3 * USEC_PER_SEC);
	assert_int_equal(g.finished, 0);
	/* Let the detached thread end before the test's files go. */
	assert_int_equal(write(g.pipe[1], "x", 1), 1);
	for (int k = 0; k < 500 && !g.finished; k++)
		usleep(10000);
	assert_int_equal(g.finished, 1);
}

static void test_full_disk(void **state)
{
	struct fix *f = *state;
	char stored[512], path[600];

	assert_int_equal(mkdir(f->capdir, 0700), 0);
	if (mount("sg-full", f->capdir, "tmpfs", 0, "size=64k") < 0)
		fail_msg("cannot mount a tmpfs for the full-disk test: %s (needs root)", strerror(errno));
	f->mounted = true;
	snprintf(path, sizeof(path), "%s/filler", f->capdir);
	int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	static char block[4096];
	while (write(fd, block, sizeof(block)) > 0)
		;
	close(fd);

	/* Taking is unaffected; storing says the disk is full. */
	struct sg_bundle *b = take(f, "full");
	int r = sg_bundle_store(b, stored, sizeof(stored));
	assert_true(r == -ENOSPC);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_take_touches_no_disk, setup, teardown),
		cmocka_unit_test_setup_teardown(test_writer_queue, setup, teardown),
		cmocka_unit_test_setup_teardown(test_writer_stuck, setup, teardown),
		cmocka_unit_test_setup_teardown(test_full_disk, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

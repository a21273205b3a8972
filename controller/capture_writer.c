/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "capture_writer.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "log.h"
#include "units.h"

#define WRITER_STACK (512 * 1024)
#define WRITER_NICE 5
#define WRITER_IOPRIO ((2 << 13) | 6) /* best effort, below the default level 4 */

struct sg_capture_writer {
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t wake; /* work queued, or stop */
	pthread_cond_t idle; /* the queue is empty and nothing is being stored */
	struct sg_bundle *queue[SG_CAPTURE_QUEUE];
	size_t head, count;
	bool busy, stopping;
};

static void *writer_main(void *arg)
{
	struct sg_capture_writer *w = arg;
	char path[SG_PATH_MAX + 96], taken[SG_PATH_MAX + 96];

	if (setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), WRITER_NICE) < 0)
		sg_log(LOG_DEBUG, "capture writer: cannot lower its CPU priority (%m)");
	if (syscall(SYS_ioprio_set, 1 /* IOPRIO_WHO_PROCESS */, 0, WRITER_IOPRIO) < 0)
		sg_log(LOG_DEBUG, "capture writer: cannot lower its I/O priority (%m)");
	pthread_mutex_lock(&w->lock);
	for (;;) {
		while (!w->count && !w->stopping)
			pthread_cond_wait(&w->wake, &w->lock);
		if (!w->count || w->stopping)
			break; /* stopping: what is still queued is freed by the stop */
		struct sg_bundle *b = w->queue[w->head];
		w->head = (w->head + 1) % SG_CAPTURE_QUEUE;
		w->count--;
		w->busy = true;
		pthread_mutex_unlock(&w->lock);

		uint64_t start = sg_now_usec();
		sg_strlcpy(taken, sg_bundle_path(b), sizeof(taken));
		int r = sg_bundle_store(b, path, sizeof(path));
		double ms = (double)(sg_now_usec() - start) / 1000.0;
		if (strcmp(path, taken) != 0)
			sg_log(LOG_WARNING, "capture %s: stored as %s, a directory of that name exists", taken, path);
		if (r < 0)
			sg_log(LOG_ERR, "capture %s: stored in %.0f ms with errors: %s", path, ms, strerror(-r));
		else
			sg_log(LOG_INFO, "capture %s: stored in %.0f ms", path, ms);

		pthread_mutex_lock(&w->lock);
		w->busy = false;
		if (!w->count)
			pthread_cond_broadcast(&w->idle);
	}
	pthread_mutex_unlock(&w->lock);
	return NULL;
}

int sg_capture_writer_start(struct sg_capture_writer **out)
{
	struct sg_capture_writer *w = calloc(1, sizeof(*w));
	pthread_condattr_t cattr;
	pthread_attr_t attr;
	int r;

	*out = NULL;
	if (!w)
		return -ENOMEM;
	pthread_mutex_init(&w->lock, NULL);
	pthread_condattr_init(&cattr);
	pthread_condattr_setclock(&cattr, CLOCK_MONOTONIC);
	pthread_cond_init(&w->wake, &cattr);
	pthread_cond_init(&w->idle, &cattr);
	pthread_condattr_destroy(&cattr);
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, WRITER_STACK);
	r = pthread_create(&w->thread, &attr, writer_main, w);
	pthread_attr_destroy(&attr);
	if (r) {
		pthread_cond_destroy(&w->wake);
		pthread_cond_destroy(&w->idle);
		pthread_mutex_destroy(&w->lock);
		free(w);
		return -r;
	}
	pthread_setname_np(w->thread, "sg-capture");
	*out = w;
	return 0;
}

int sg_capture_writer_submit(struct sg_capture_writer *w, struct sg_bundle *b)
{
	pthread_mutex_lock(&w->lock);
	if (w->count == SG_CAPTURE_QUEUE) {
		pthread_mutex_unlock(&w->lock);
		sg_bundle_free(b);
		return -EBUSY;
	}
	w->queue[(w->head + w->count) % SG_CAPTURE_QUEUE] = b;
	w->count++;
	pthread_cond_signal(&w->wake);
	pthread_mutex_unlock(&w->lock);
	return 0;
}

void sg_capture_writer_stop(struct sg_capture_writer *w, uint64_t timeout_usec)
{
	struct timespec deadline;
	bool stuck = false;

	if (!w)
		return;
	clock_gettime(CLOCK_MONOTONIC, &deadline);
	deadline.tv_sec += (time_t)(timeout_usec / 1000000);
	deadline.tv_nsec += (long)(timeout_usec % 1000000) * 1000;
	if (deadline.tv_nsec >= 1000000000L) {
		deadline.tv_sec++;
		deadline.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&w->lock);
	while ((w->count || w->busy) && !stuck)
		stuck = pthread_cond_timedwait(&w->idle, &w->lock, &deadline) == ETIMEDOUT;
	w->stopping = true;
	stuck = w->busy;
	pthread_cond_signal(&w->wake);
	pthread_mutex_unlock(&w->lock);
	if (stuck) {
		sg_log(LOG_WARNING, "capture writer: still storing a bundle after %.1f s: left to finish or "
				    "die with the process", (double)timeout_usec / 1e6);
		pthread_detach(w->thread);
		return;
	}
	pthread_join(w->thread, NULL);
	for (; w->count; w->count--, w->head = (w->head + 1) % SG_CAPTURE_QUEUE)
		sg_bundle_free(w->queue[w->head]);
	pthread_cond_destroy(&w->wake);
	pthread_cond_destroy(&w->idle);
	pthread_mutex_destroy(&w->lock);
	free(w);
}

/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The folded writer on stack sets built by hand: real kernel addresses (from
 * /proc/kallsyms) and this test's own functions as user frames, so the
 * expected lines are exact; merging, in-progress blocks, invalid traces,
 * hostile comm names, more processes than are read, an empty set. */
#include "fixture.h"

#include <errno.h>
#include <regex.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kernel_symbol.h"
#include "stacks.h"
#include "symbolize.h"

/* Not static: their names are in the symbol table for the lookups. */
int __attribute__((noinline)) folded_inner(int x)
{
	return x * 7 + (int)getpid();
}

int __attribute__((noinline)) folded_outer(int x)
{
	return folded_inner(x + 1) * 5 + (int)getppid();
}

/* A set with room for what the tests put in. */
struct set_buf {
	struct sg_stack_set set;
	struct sg_stack_sample samples[16];
	struct sg_trace traces[4];
	uint64_t ips[16];
};

static void set_init(struct set_buf *b, enum sg_stack_kind kind)
{
	memset(b, 0, sizeof(*b));
	b->set = (struct sg_stack_set){
		.kind = kind,
		.samples = b->samples, .samples_cap = 16,
		.traces = b->traces, .traces_cap = 4,
		.ips = b->ips, .ips_cap = 16,
	};
}

/* Adds a trace of n frames, innermost first; returns its index. */
static int32_t trace_add(struct set_buf *b, const uint64_t *frames, uint16_t n)
{
	struct sg_stack_set *set = &b->set;
	set->traces[set->ntraces] = (struct sg_trace){ .offset = (uint32_t)set->nips, .depth = n };
	memcpy(set->ips + set->nips, frames, n * sizeof(*frames));
	set->nips += n;
	return (int32_t)set->ntraces++;
}

static void sample_add(struct set_buf *b, const char *comm, int32_t kernel, int32_t user, uint64_t value,
		       bool in_progress)
{
	struct sg_stack_sample *s = &b->set.samples[b->set.nsamples++];
	*s = (struct sg_stack_sample){
		.tgid = (uint32_t)getpid(), .tid = (uint32_t)getpid(),
		.kernel_trace = kernel, .user_trace = user, .value = value, .in_progress = in_progress,
	};
	memcpy(s->comm, comm, strnlen(comm, sizeof(s->comm)));
}

/* The folded text of set, malloc'd; *lines gets the writer's result. */
static char *folded(const struct sg_stack_set *set, int *lines)
{
	char *text = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&text, &len);
	struct sg_symbolizer *sym = sg_symbolizer_new();

	assert_non_null(out);
	assert_non_null(sym);
	*lines = sg_stacks_write_folded(out, set, sym);
	fclose(out);
	sg_symbolizer_free(sym);
	return text;
}

/* Kernel trace [schedule (innermost), vfs_read] and user trace [folded_inner, folded_outer]. */
static void traces_add(struct set_buf *b, int32_t *kernel, int32_t *user)
{
	/* Callers' frames are return addresses, inside the function past its first byte. */
	uint64_t k[] = { kernel_symbol("schedule") + 4, kernel_symbol("vfs_read") + 8 };
	uint64_t u[] = { (uintptr_t)&folded_inner, (uintptr_t)&folded_outer + 6 };
	*kernel = trace_add(b, k, 2);
	*user = trace_add(b, u, 2);
}

static void test_offcpu_lines(void **state)
{
	(void)state;
	struct set_buf b;
	int32_t kernel, user;
	int lines;

	set_init(&b, SG_STACKS_OFFCPU);
	traces_add(&b, &kernel, &user);
	sample_add(&b, "worker", kernel, user, 100, false);
	sample_add(&b, "worker", kernel, SG_STACK_NONE, 7, true);
	sample_add(&b, "worker", kernel, user, 50, false);        /* merged with the first */
	sample_add(&b, "kworker/0:1", kernel, SG_STACK_NONE, 0, false); /* no time: left out */
	sample_add(&b, "bad", 99, SG_STACK_NONE, 3, false);
	char *text = folded(&b.set, &lines);
	assert_int_equal(lines, 3);
	assert_string_equal(text, "bad;[invalid stack] 3\n"
				  "worker;folded_outer;folded_inner;vfs_read_[k];schedule_[k] 150\n"
				  "worker;vfs_read_[k];schedule_[k];[blocked at capture] 7\n");
	free(text);
}

static void test_without_symbolizer(void **state)
{
	(void)state;
	struct set_buf b;
	int32_t kernel, user;
	char *text = NULL;
	size_t len = 0;
	FILE *out;

	set_init(&b, SG_STACKS_OFFCPU);
	traces_add(&b, &kernel, &user);
	sample_add(&b, "worker", kernel, user, 9, false);
	assert_non_null(out = open_memstream(&text, &len));
	assert_int_equal(sg_stacks_write_folded(out, &b.set, NULL), 1);
	fclose(out);
	assert_string_equal(text, "worker;[unknown];[unknown];[unknown]_[k];[unknown]_[k] 9\n");
	free(text);
}

static void test_oncpu_lines(void **state)
{
	(void)state;
	struct set_buf b;
	int32_t kernel, user;
	int lines;
	uint64_t unknown_kernel[] = { 0x10 };

	set_init(&b, SG_STACKS_ONCPU);
	traces_add(&b, &kernel, &user);
	int32_t bad = trace_add(&b, unknown_kernel, 1);
	sample_add(&b, "spin", SG_STACK_NONE, user, 3, true); /* in_progress means nothing on-CPU */
	sample_add(&b, "spin", bad, SG_STACK_NONE, 2, false);
	sample_add(&b, "spin", bad, SG_STACK_NONE, 5, false);
	char *text = folded(&b.set, &lines);
	assert_int_equal(lines, 2);
	assert_string_equal(text, "spin;[unknown]_[k] 7\n"
				  "spin;folded_outer;folded_inner 3\n");
	free(text);
}

static void test_hostile_comms(void **state)
{
	(void)state;
	static const char *const comms[] = {
		"a;b", "x\ny", "<tag>", "\x01" "ctl", "\xff\xfe", " lead", "trail ", "", "abcdefghijklmnop",
	};
	size_t n = sizeof(comms) / sizeof(comms[0]);
	struct set_buf b;
	regex_t line_re;
	int lines;

	set_init(&b, SG_STACKS_OFFCPU);
	for (size_t i = 0; i < n; i++)
		sample_add(&b, comms[i], SG_STACK_NONE, SG_STACK_NONE, 10 + i, i % 2 == 0);
	char *text = folded(&b.set, &lines);
	assert_int_equal(lines, (int)n);
	assert_int_equal(regcomp(&line_re, "^[^\n]+ [0-9]+$", REG_EXTENDED | REG_NOSUB), 0);
	size_t seen = 0;
	for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n"), seen++) {
		if (regexec(&line_re, line, 0, NULL, 0) != 0)
			fail_msg("line does not parse as frames count: %s", line);
		for (const char *p = line; *p; p++)
			assert_true((unsigned char)*p >= 0x20 && *p != 0x7f);
	}
	regfree(&line_re);
	assert_int_equal(seen, n);
	free(text);

	/* what each became, one at a time */
	static const char *const want[] = {
		"a_b;[blocked at capture] 10\n", "x?y 11\n", "<tag>;[blocked at capture] 12\n", "?ctl 13\n",
		"\xff\xfe;[blocked at capture] 14\n", "_lead 15\n", "trail_;[blocked at capture] 16\n", "[empty] 17\n",
		"abcdefghijklmnop;[blocked at capture] 18\n",
	};
	for (size_t i = 0; i < n; i++) {
		set_init(&b, SG_STACKS_OFFCPU);
		sample_add(&b, comms[i], SG_STACK_NONE, SG_STACK_NONE, 10 + i, i % 2 == 0);
		text = folded(&b.set, &lines);
		assert_string_equal(text, want[i]);
		free(text);
	}
}

#define KIDS (SG_SYMBOLIZER_MAX_PROCS + 1)

static int kids_setup(void **state)
{
	*state = calloc(KIDS, sizeof(pid_t));
	return *state ? 0 : -1;
}

static int kids_teardown(void **state)
{
	pid_t *kids = *state;
	for (int i = 0; i < KIDS; i++) {
		if (kids[i] > 0) {
			kill(kids[i], SIGKILL);
			waitpid(kids[i], NULL, 0);
		}
	}
	free(kids);
	return 0;
}

/* More processes than the symbolizer reads: the one with the most time is read though listed last. */
static void test_heaviest_processes_named(void **state)
{
	pid_t *kids = *state;
	struct sg_stack_set set = { .kind = SG_STACKS_OFFCPU };
	struct sg_stack_sample samples[KIDS];
	uint64_t ip = (uintptr_t)&folded_inner;
	struct sg_trace trace = { .offset = 0, .depth = 1 };
	int lines;

	for (int i = 0; i < KIDS; i++) {
		kids[i] = fork();
		assert_true(kids[i] >= 0);
		if (kids[i] == 0)
			for (;;)
				pause();
		samples[i] = (struct sg_stack_sample){
			.tgid = (uint32_t)kids[i], .tid = (uint32_t)kids[i], .kernel_trace = SG_STACK_NONE,
			.user_trace = 0, .value = i == KIDS - 1 ? 1000 : 1,
		};
		snprintf(samples[i].comm, sizeof(samples[i].comm), "k%d", i);
	}
	set.samples = samples;
	set.nsamples = set.samples_cap = KIDS;
	set.traces = &trace;
	set.ntraces = set.traces_cap = 1;
	set.ips = &ip;
	set.nips = set.ips_cap = 1;
	char *text = folded(&set, &lines);
	char heavy[64];
	snprintf(heavy, sizeof(heavy), "k%d;folded_inner 1000\n", KIDS - 1);
	assert_int_equal(lines, KIDS);
	assert_non_null(strstr(text, heavy));
	size_t unknown = 0;
	for (const char *p = strstr(text, ";[unknown] 1\n"); p; p = strstr(p + 1, ";[unknown] 1\n"))
		unknown++;
	assert_int_equal(unknown, 1);
	free(text);
}

static void test_empty_set(void **state)
{
	(void)state;
	struct set_buf b;
	int lines;

	set_init(&b, SG_STACKS_OFFCPU);
	char *text = folded(&b.set, &lines);
	assert_int_equal(lines, 0);
	assert_string_equal(text, "");
	free(text);
}

static void test_write_error(void **state)
{
	(void)state;
	struct set_buf b;
	FILE *full = fopen("/dev/full", "w");
	struct sg_symbolizer *sym = sg_symbolizer_new();

	assert_non_null(full);
	set_init(&b, SG_STACKS_OFFCPU);
	sample_add(&b, "worker", SG_STACK_NONE, SG_STACK_NONE, 1, false);
	assert_int_equal(sg_stacks_write_folded(full, &b.set, sym), -EIO);
	fclose(full);
	sg_symbolizer_free(sym);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_offcpu_lines),
		cmocka_unit_test(test_without_symbolizer),
		cmocka_unit_test(test_oncpu_lines),
		cmocka_unit_test(test_hostile_comms),
		cmocka_unit_test_setup_teardown(test_heaviest_processes_named, kids_setup, kids_teardown),
		cmocka_unit_test(test_empty_set),
		cmocka_unit_test(test_write_error),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* SPDX-License-Identifier: GPL-2.0-or-later */
/* User symbolization through libdw, on real processes: this test's own
 * functions and libc's (one named only by libc's separate debug file), a
 * child added then killed and reaped, a child running a copy of this binary
 * deleted since it started, one running a stripped copy (named
 * FILE+0xOFFSET), and the bound on processes read. The children are this
 * binary run as `--sleeper`: it writes the address of sg_test_marker to
 * fd 3 and waits. */
#include "fixture.h"

#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "run.h"
#include "symbolize.h"

#define KIDS (SG_SYMBOLIZER_MAX_PROCS + 1)
#define COPIES 2

/* Children and files a test made, for teardown to remove even when it fails. */
struct kids {
	pid_t pid[KIDS];
	char copy[COPIES][PATH_MAX];
};

/* Not static: its name is in the symbol table for the lookups. */
int __attribute__((noinline)) sg_test_marker(int x)
{
	return x * 3 + (int)getpid();
}

static int kids_setup(void **state)
{
	*state = calloc(1, sizeof(struct kids));
	return *state ? 0 : -1;
}

static void kid_end(pid_t *pid)
{
	if (*pid > 0) {
		kill(*pid, SIGKILL);
		waitpid(*pid, NULL, 0);
	}
	*pid = 0;
}

static int kids_teardown(void **state)
{
	struct kids *kids = *state;
	for (int i = 0; i < KIDS; i++)
		kid_end(&kids->pid[i]);
	for (int i = 0; i < COPIES; i++)
		if (kids->copy[i][0])
			unlink(kids->copy[i]);
	free(kids);
	return 0;
}

/* Runs this binary (or the copy at path) as a sleeper in kids slot i; returns its marker's address. */
static uint64_t sleeper_start(struct kids *kids, int i, const char *path)
{
	int fds[2];
	uint64_t marker = 0;

	assert_int_equal(pipe(fds), 0);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(fds[0]);
		if (dup2(fds[1], 3) < 0)
			_exit(127);
		execl(path, path, "--sleeper", (char *)NULL);
		_exit(127);
	}
	kids->pid[i] = pid;
	close(fds[1]);
	ssize_t got = read(fds[0], &marker, sizeof(marker));
	close(fds[0]);
	if (got != (ssize_t)sizeof(marker))
		fail_msg("sleeper %s did not start", path);
	return marker;
}

/* Copies this test binary beside it, executable; returns the copy's path (in kids slot i). */
static const char *binary_copy(struct kids *kids, int i)
{
	char self[PATH_MAX - 16];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	assert_true(n > 0);
	self[n] = '\0';
	snprintf(kids->copy[i], sizeof(kids->copy[i]), "%s.copy-XXXXXX", self);
	int out = mkstemp(kids->copy[i]);
	int in = open(self, O_RDONLY | O_CLOEXEC);
	struct stat st;
	assert_true(out >= 0 && in >= 0 && fstat(in, &st) == 0);
	for (off_t off = 0; off < st.st_size;)
		assert_true(sendfile(out, in, &off, (size_t)(st.st_size - off)) > 0);
	assert_int_equal(fchmod(out, 0700), 0);
	close(in);
	close(out);
	return kids->copy[i];
}

/* The start of the first mapping of a file whose maps name starts with path, in process pid. */
static uint64_t first_mapping(pid_t pid, const char *path, bool *deleted)
{
	char maps[64], line[PATH_MAX + 128];
	snprintf(maps, sizeof(maps), "/proc/%d/maps", (int)pid);
	FILE *f = fopen(maps, "r");
	assert_non_null(f);
	uint64_t start = 0;
	while (fgets(line, sizeof(line), f)) {
		char *name = strchr(line, '/');
		if (name && strncmp(name, path, strlen(path)) == 0) {
			start = strtoull(line, NULL, 16);
			if (deleted)
				*deleted = strstr(name, " (deleted)") != NULL;
			break;
		}
	}
	fclose(f);
	if (!start)
		fail_msg("%s is not mapped in %d", path, (int)pid);
	return start;
}

static void test_own_functions(void **state)
{
	(void)state;
	struct sg_symbolizer *sym = sg_symbolizer_new();
	char name[SG_SYMBOL_MAX];

	assert_non_null(sym);
	assert_int_equal(sg_symbolize_user(sym, (uint32_t)getpid(), (uintptr_t)&sg_test_marker, name, sizeof(name)), 0);
	assert_string_equal(name, "sg_test_marker");
	/* libc's, through the dynamic symbol table (glibc names it getpid or __getpid) */
	assert_int_equal(sg_symbolize_user(sym, (uint32_t)getpid(), (uintptr_t)&getpid + 1, name, sizeof(name)), 0);
	size_t len = strlen(name);
	assert_true(len >= 6 && strcmp(name + len - 6, "getpid") == 0);
	/* a versioned symbol (__libc_start_main@@GLIBC_2.34 in libc's symbol table) without its version */
	void *start_main = dlsym(RTLD_DEFAULT, "__libc_start_main");
	assert_non_null(start_main);
	assert_int_equal(sg_symbolize_user(sym, (uint32_t)getpid(), (uintptr_t)start_main + 1, name, sizeof(name)), 0);
	assert_string_equal(name, "__libc_start_main");
	/* 0, and an anonymous mapping, are in no file */
	assert_int_equal(sg_symbolize_user(sym, (uint32_t)getpid(), 0, name, sizeof(name)), -ENOENT);
	assert_string_equal(name, "[unknown]");
	void *anon = mmap(NULL, 4096, PROT_READ | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	assert_true(anon != MAP_FAILED);
	/* a new symbolizer: the previous one read this process's mappings before the mmap */
	sg_symbolizer_free(sym);
	sym = sg_symbolizer_new();
	assert_int_equal(sg_symbolize_user(sym, (uint32_t)getpid(), (uintptr_t)anon + 16, name, sizeof(name)), -ENOENT);
	assert_string_equal(name, "[unknown]");
	munmap(anon, 4096);
	sg_symbolizer_free(sym);
}

/* Where main returns to: inside libc's __libc_start_call_main, a static function that only
 * libc's separate debug file (libc6-dbg) names. */
static uintptr_t main_return;

static void test_separate_debug_file(void **state)
{
	(void)state;
	struct sg_symbolizer *sym = sg_symbolizer_new();
	char name[SG_SYMBOL_MAX];

	if (access("/usr/lib/debug/.build-id", F_OK) != 0)
		fail_msg("no /usr/lib/debug/.build-id: install libc6-dbg (scripts/install-deps)");
	assert_non_null(sym);
	assert_int_equal(sg_symbolize_user(sym, (uint32_t)getpid(), main_return - 1, name, sizeof(name)), 0);
	assert_string_equal(name, "__libc_start_call_main");
	sg_symbolizer_free(sym);
}

/* Whether a file whose path holds what is mapped in this process. */
static bool mapped(const char *what)
{
	FILE *f = fopen("/proc/self/maps", "r");
	char line[PATH_MAX + 128];
	bool found = false;

	assert_non_null(f);
	while (!found && fgets(line, sizeof(line), f))
		found = strstr(line, what) != NULL;
	fclose(f);
	return found;
}

static void test_libraries_unloaded_by_free(void **state)
{
	(void)state;
	char name[SG_SYMBOL_MAX];

	assert_false(mapped("/libdw"));
	struct sg_symbolizer *sym = sg_symbolizer_new();
	assert_non_null(sym);
	assert_true(mapped("/libdw"));
	assert_int_equal(sg_symbolizer_add_pid(sym, (uint32_t)getpid()), 0);
	/* symbols read, from the debug file and not: no debuginfod client (nor libcurl) comes in */
	assert_int_equal(sg_symbolize_user(sym, (uint32_t)getpid(), main_return - 1, name, sizeof(name)), 0);
	assert_int_equal(sg_symbolize_user(sym, (uint32_t)getpid(), (uintptr_t)&sg_test_marker, name, sizeof(name)), 0);
	assert_false(mapped("/libdebuginfod"));
	assert_false(mapped("/libcurl"));
	sg_symbolizer_free(sym);
	assert_false(mapped("/libdw"));
	assert_false(mapped("/libelf"));
}

static size_t open_fds(void)
{
	DIR *dir = opendir("/proc/self/fd");
	size_t n = 0;

	assert_non_null(dir);
	while (readdir(dir))
		n++;
	closedir(dir);
	return n;
}

static void test_child_resolves_after_kill(void **state)
{
	struct kids *kids = *state;
	struct sg_symbolizer *sym = sg_symbolizer_new();
	char name[SG_SYMBOL_MAX];
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);

	assert_true(n > 0);
	self[n] = '\0';
	assert_non_null(sym);
	uint64_t marker = sleeper_start(kids, 0, self);
	pid_t pid = kids->pid[0];
	size_t fds = open_fds();
	assert_int_equal(sg_symbolizer_add_pid(sym, (uint32_t)pid), 0);
	assert_int_equal(sg_symbolizer_add_pid(sym, (uint32_t)pid), 0);
	assert_int_equal(open_fds(), fds); /* files are read through mappings, no descriptor is kept */
	kid_end(&kids->pid[0]);
	assert_int_equal(kill(pid, 0), -1);
	assert_int_equal(sg_symbolize_user(sym, (uint32_t)pid, marker, name, sizeof(name)), 0);
	assert_string_equal(name, "sg_test_marker");

	/* one that was not added before it died cannot be read */
	marker = sleeper_start(kids, 1, self);
	pid = kids->pid[1];
	kid_end(&kids->pid[1]);
	assert_int_equal(sg_symbolize_user(sym, (uint32_t)pid, marker, name, sizeof(name)), -ESRCH);
	assert_string_equal(name, "[unknown]");
	assert_int_equal(sg_symbolizer_add_pid(sym, (uint32_t)pid), -ESRCH);
	sg_symbolizer_free(sym);
}

static void test_deleted_binary(void **state)
{
	struct kids *kids = *state;
	struct sg_symbolizer *sym = sg_symbolizer_new();
	char name[SG_SYMBOL_MAX];
	bool deleted = false;

	assert_non_null(sym);
	const char *copy = binary_copy(kids, 0);
	uint64_t marker = sleeper_start(kids, 0, copy);
	assert_int_equal(unlink(copy), 0);
	first_mapping(kids->pid[0], copy, &deleted);
	assert_true(deleted);
	pid_t pid = kids->pid[0];
	assert_int_equal(sg_symbolizer_add_pid(sym, (uint32_t)pid), 0);
	kid_end(&kids->pid[0]);
	assert_int_equal(sg_symbolize_user(sym, (uint32_t)pid, marker, name, sizeof(name)), 0);
	assert_string_equal(name, "sg_test_marker");
	sg_symbolizer_free(sym);
}

static void test_stripped_binary_offset(void **state)
{
	struct kids *kids = *state;
	struct sg_symbolizer *sym = sg_symbolizer_new();
	char name[SG_SYMBOL_MAX], want[SG_SYMBOL_MAX];

	assert_non_null(sym);
	const char *copy = binary_copy(kids, 0);
	char *strip[] = { "objcopy", "--strip-all", (char *)copy, NULL };
	int status = run_wait(strip);
	if (status != 0)
		fail_msg("objcopy --strip-all %s: status %d (binutils is needed)", copy, status);
	uint64_t marker = sleeper_start(kids, 0, copy);
	uint64_t start = first_mapping(kids->pid[0], copy, NULL);
	snprintf(want, sizeof(want), "%s+0x%" PRIx64, strrchr(copy, '/') + 1, marker - start);
	assert_int_equal(sg_symbolize_user(sym, (uint32_t)kids->pid[0], marker, name, sizeof(name)), -ENOENT);
	assert_string_equal(name, want);
	sg_symbolizer_free(sym);
}

static void test_process_cap(void **state)
{
	struct kids *kids = *state;
	char name[SG_SYMBOL_MAX];

	/* Forked before the symbolizer maps files, so each child has only this test's mappings. */
	for (int i = 0; i < KIDS; i++) {
		kids->pid[i] = fork();
		assert_true(kids->pid[i] >= 0);
		if (kids->pid[i] == 0)
			for (;;)
				pause();
	}
	struct sg_symbolizer *sym = sg_symbolizer_new();
	assert_non_null(sym);
	for (int i = 0; i < KIDS; i++) {
		int want = i < SG_SYMBOLIZER_MAX_PROCS ? 0 : -ENOSPC;
		assert_int_equal(sg_symbolizer_add_pid(sym, (uint32_t)kids->pid[i]), want);
	}
	assert_int_equal(sg_symbolize_user(sym, (uint32_t)kids->pid[0], (uintptr_t)&sg_test_marker, name,
					   sizeof(name)), 0);
	assert_int_equal(sg_symbolize_user(sym, (uint32_t)kids->pid[KIDS - 1], (uintptr_t)&sg_test_marker, name,
					   sizeof(name)), -ENOSPC);
	assert_string_equal(name, "[unknown]");
	sg_symbolizer_free(sym);
}

static void __attribute__((noreturn)) sleeper(void)
{
	uint64_t marker = (uintptr_t)&sg_test_marker;
	if (write(3, &marker, sizeof(marker)) != (ssize_t)sizeof(marker))
		_exit(1);
	close(3);
	for (;;)
		pause();
}

int main(int argc, char **argv)
{
	if (argc == 2 && strcmp(argv[1], "--sleeper") == 0)
		sleeper();
	main_return = (uintptr_t)__builtin_return_address(0);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_own_functions),
		cmocka_unit_test(test_separate_debug_file),
		cmocka_unit_test(test_libraries_unloaded_by_free),
		cmocka_unit_test_setup_teardown(test_child_resolves_after_kill, kids_setup, kids_teardown),
		cmocka_unit_test_setup_teardown(test_deleted_binary, kids_setup, kids_teardown),
		cmocka_unit_test_setup_teardown(test_stripped_binary_offset, kids_setup, kids_teardown),
		cmocka_unit_test_setup_teardown(test_process_cap, kids_setup, kids_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The kallsyms table: fixtures (aliases, padding symbols, data symbols, the
 * ends of the core text, modules, bpf programs, junk lines, addresses hidden
 * as zeros) and the real /proc/kallsyms, directly and through the
 * symbolizer. */
#include "fixture.h"

#include <errno.h>

#include "kallsyms.h"
#include "kernel_symbol.h"
#include "symbolize.h"

static struct sg_ksyms parse_fixture(const char *name, int want_finish)
{
	struct sg_ksyms ks = { 0 };
	size_t len;
	char *text = fixture_exact(name, &len);

	assert_int_equal(sg_kallsyms_parse(&ks, text, len), 0);
	assert_int_equal(sg_kallsyms_finish(&ks), want_finish);
	free(text);
	return ks;
}

/* The name at addr ("NAME" or "NAME [MODULE]"), or "-" when unknown. */
static const char *name_at(const struct sg_ksyms *ks, uint64_t addr)
{
	static char buf[256];
	const struct sg_ksym *sym = sg_kallsyms_find(ks, addr);

	if (!sym)
		return "-";
	if (*sg_ksym_module(ks, sym))
		snprintf(buf, sizeof(buf), "%s [%s]", sg_ksym_name(ks, sym), sg_ksym_module(ks, sym));
	else
		snprintf(buf, sizeof(buf), "%s", sg_ksym_name(ks, sym));
	return buf;
}

static void test_core_symbols(void **state)
{
	(void)state;
	struct sg_ksyms ks = parse_fixture("kallsyms/basic", 0);

	assert_int_equal(ks.junk, 0);
	/* three aliases at one address: the name without leading underscores */
	assert_string_equal(name_at(&ks, 0xffffffff81000000), "startup_64");
	assert_string_equal(name_at(&ks, 0xffffffff810000ff), "startup_64");
	/* __pfx_ padding is not a symbol: its bytes belong to the function before */
	assert_string_equal(name_at(&ks, 0xffffffff81000105), "startup_64");
	assert_string_equal(name_at(&ks, 0xffffffff81000110), "do_one");
	assert_string_equal(name_at(&ks, 0xffffffff81000204), "schedule");
	/* a weak symbol listed last, out of address order */
	assert_string_equal(name_at(&ks, 0xffffffff810003ff), "weak_func");
	/* _etext ends the text: nothing after it up to the init text is named, data symbols neither */
	assert_string_equal(name_at(&ks, 0xffffffff81000400), "-");
	assert_string_equal(name_at(&ks, 0xffffffff81100040), "-");
	assert_string_equal(name_at(&ks, 0xffffffff81200150), "init_func");
	assert_string_equal(name_at(&ks, 0xffffffff81200200), "-");
	/* below the first symbol, and 0 */
	assert_string_equal(name_at(&ks, 0xffffffff80ffffff), "-");
	assert_string_equal(name_at(&ks, 0), "-");
	sg_kallsyms_free(&ks);
	assert_null(ks.syms);
	assert_int_equal(ks.nsyms, 0);
}

static void test_module_symbols(void **state)
{
	(void)state;
	struct sg_ksyms ks = parse_fixture("kallsyms/basic", 0);

	assert_string_equal(name_at(&ks, 0xffffffffc0001050), "ext4_foo [ext4]");
	assert_string_equal(name_at(&ks, 0xffffffffc0001100), "ext4_bar [ext4]");
	/* one module name shared by its symbols */
	assert_int_equal(sg_kallsyms_find(&ks, 0xffffffffc0001050)->module,
			 sg_kallsyms_find(&ks, 0xffffffffc0001100)->module);
	/* the last symbol of a region covers SG_KSYM_TAIL bytes, not up to the next region */
	assert_string_equal(name_at(&ks, 0xffffffffc0001100 + SG_KSYM_TAIL - 1), "ext4_bar [ext4]");
	assert_string_equal(name_at(&ks, 0xffffffffc0001100 + SG_KSYM_TAIL), "-");
	assert_string_equal(name_at(&ks, 0xffffffffc0003010), "bpf_prog_6deef7357e7b4530_handler [bpf]");
	assert_string_equal(name_at(&ks, 0xffffffffc0201010), "ftrace_trampoline [__builtin__ftrace]");
	assert_string_equal(name_at(&ks, 0xffffffffc0201000 + SG_KSYM_TAIL), "-");
	assert_string_equal(name_at(&ks, UINT64_MAX), "-");
	sg_kallsyms_free(&ks);
}

static void test_junk_lines(void **state)
{
	(void)state;
	struct sg_ksyms ks = parse_fixture("kallsyms/junk", 0);

	/* prose, an address alone, no name, a bad address, a two-letter type, an
	 * unterminated module, 17 digits, an empty line */
	assert_int_equal(ks.junk, 8);
	assert_int_equal(ks.nsyms, 3);
	assert_string_equal(name_at(&ks, 0xffffffff81000010), "good_one");
	assert_string_equal(name_at(&ks, 0xffffffff81000410), "good_two [mod]");
	assert_string_equal(name_at(&ks, 0xffffffff81000510), "last_without_newline");
	sg_kallsyms_free(&ks);
}

static void test_zeroed_addresses(void **state)
{
	(void)state;
	struct sg_ksyms ks = parse_fixture("kallsyms/zeroed", -EPERM);

	assert_int_equal(ks.nsyms, 4);
	sg_kallsyms_free(&ks);
	/* the same through the file reader */
	assert_int_equal(sg_kallsyms_load(FIXTURES "/kallsyms/zeroed", &ks), -EPERM);
	sg_kallsyms_free(&ks);
}

static void test_no_text_symbols(void **state)
{
	(void)state;
	struct sg_ksyms ks = { 0 };
	const char text[] = "ffffffff82400000 D __start_rodata\nffffffff82400040 r some_table\n";

	assert_int_equal(sg_kallsyms_parse(&ks, text, sizeof(text) - 1), 0);
	assert_int_equal(sg_kallsyms_finish(&ks), -ENOENT);
	sg_kallsyms_free(&ks);
	assert_int_equal(sg_kallsyms_load(FIXTURES "/kallsyms/no-such-file", &ks), -ENOENT);
	sg_kallsyms_free(&ks);
}

static void test_real_kallsyms(void **state)
{
	(void)state;
	struct sg_ksyms ks = { 0 };
	uint64_t schedule = kernel_symbol("schedule");
	uint64_t vfs_read = kernel_symbol("vfs_read");

	assert_int_equal(sg_kallsyms_load("/proc/kallsyms", &ks), 0);
	assert_true(ks.nsyms > 10000);
	assert_int_equal(ks.junk, 0);
	assert_string_equal(name_at(&ks, schedule + 4), "schedule");
	assert_string_equal(name_at(&ks, vfs_read), "vfs_read");
	sg_kallsyms_free(&ks);

	/* through the symbolizer, which reads kallsyms at its first kernel lookup */
	struct sg_symbolizer *sym = sg_symbolizer_new();
	char name[SG_SYMBOL_MAX];
	assert_non_null(sym);
	assert_int_equal(sg_symbolize_kernel(sym, schedule + 4, name, sizeof(name)), 0);
	assert_string_equal(name, "schedule");
	assert_int_equal(sg_symbolize_kernel(sym, 0, name, sizeof(name)), -ENOENT);
	assert_string_equal(name, "[unknown]");
	assert_int_equal(sg_symbolizer_load_kernel(sym), 0);
	sg_symbolizer_free(sym);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_core_symbols),
		cmocka_unit_test(test_module_symbols),
		cmocka_unit_test(test_junk_lines),
		cmocka_unit_test(test_zeroed_addresses),
		cmocka_unit_test(test_no_text_symbols),
		cmocka_unit_test(test_real_kallsyms),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

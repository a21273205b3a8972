/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Flame graphs: SVGs of known folded text checked by xmllint (libxml2-utils)
 * in a child process, frame widths against counts, hover titles, hostile
 * names and titles, no external reference, the two palettes, malformed lines,
 * elided frames and the frame cap, an empty graph, a write error. */
#include "fixture.h"

#include <errno.h>
#include <stdbool.h>
#include <unistd.h>

#include "flamegraph.h"
#include "run.h"

/* The SVG of folded text; *result gets sg_flamegraph_write's. */
static char *svg_of(const char *text, size_t len, const char *title, enum sg_stack_kind kind, int *result)
{
	char *svg = NULL;
	size_t svg_len = 0;
	FILE *out = open_memstream(&svg, &svg_len);

	assert_non_null(out);
	*result = sg_flamegraph_write(out, text, len, title, kind);
	fclose(out);
	return svg;
}

/* Fails the test unless xmllint finds svg well-formed. */
static void assert_well_formed(const char *svg)
{
	char path[] = "/tmp/sg-flamegraph-XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	size_t len = strlen(svg);
	bool written = write(fd, svg, len) == (ssize_t)len;
	close(fd);
	char *argv[] = { "xmllint", "--noout", path, NULL };
	int status = written ? run_wait(argv) : -1;
	unlink(path);
	if (status == 127)
		fail_msg("xmllint cannot be run: install libxml2-utils (scripts/install-deps)");
	if (status != 0)
		fail_msg("xmllint: the SVG is not well-formed (status %d)", status);
}

static size_t count_of(const char *s, const char *what)
{
	size_t n = 0;
	for (const char *p = strstr(s, what); p; p = strstr(p + 1, what))
		n++;
	return n;
}

/* The width of the rect of the frame whose hover title begins with "NAME (". */
static double frame_width(const char *svg, const char *name)
{
	char key[256];
	snprintf(key, sizeof(key), "<title>%s (", name);
	const char *title = strstr(svg, key);
	if (!title)
		fail_msg("no frame %s", name);
	const char *width = strstr(title, "width=\"");
	assert_non_null(width);
	return strtod(width + strlen("width=\""), NULL);
}

static const char known[] = "proc;main;work;compute 30\n"
			    "proc;main;work;io 10\n"
			    "proc;main;idle 60\n"
			    "other;x 0\n";

static void test_known_graph(void **state)
{
	(void)state;
	int result;
	char *svg = svg_of(known, strlen(known), "off-CPU, rule io-storm", SG_STACKS_OFFCPU, &result);

	assert_int_equal(result, 0);
	assert_well_formed(svg);
	assert_near(frame_width(svg, "compute") / frame_width(svg, "io"), 3.0, 0.01);
	assert_near(frame_width(svg, "idle") / frame_width(svg, "work"), 1.5, 0.01);
	assert_near(frame_width(svg, "all"), frame_width(svg, "proc"), 0.01);
	assert_non_null(strstr(svg, "<title>compute (30 us, 30.00%)</title>"));
	assert_non_null(strstr(svg, "<title>all (100 us, 100.00%)</title>"));
	assert_non_null(strstr(svg, ">compute</text>"));
	assert_non_null(strstr(svg, "off-CPU, rule io-storm"));
	assert_non_null(strstr(svg, "off-CPU: 100 us blocked"));
	/* other and x have no time: not drawn, and said so; one rect per frame drawn plus the background */
	assert_null(strstr(svg, "<title>other ("));
	assert_non_null(strstr(svg, "2 frames not drawn"));
	assert_int_equal(count_of(svg, "<rect"), 1 + 7);
	assert_int_equal(count_of(svg, "<title>"), 7);
	free(svg);
}

static void test_no_external_reference(void **state)
{
	(void)state;
	int result;
	char *svg = svg_of(known, strlen(known), "t", SG_STACKS_ONCPU, &result);

	assert_int_equal(count_of(svg, "http"), 1);
	assert_non_null(strstr(svg, "xmlns=\"http://www.w3.org/2000/svg\""));
	assert_int_equal(count_of(svg, "href"), 0);
	assert_int_equal(count_of(svg, "<script"), 0);
	assert_int_equal(count_of(svg, "url("), 0);
	free(svg);
}

static void test_hostile_names(void **state)
{
	(void)state;
	static const char text[] = "<script>alert(1)</script>;a&b\"c'd 5\n"
				   "bad\xff\xfe utf8;ctl\x01\x1b\x7f 5\n"
				   "overlong\xc0\xaf;surrogate\xed\xa0\x80;cut\xe2\x82 5\n"
				   "\xc3\xbcn\xc3\xaf" "c\xc3\xb8" "d\xc3\xa9;\xf0\x9f\x94\xa5 5\n"
				   "nonchar\xef\xbf\xbe 5\n";
	int result;
	char *svg = svg_of(text, sizeof(text) - 1, "title <&>\"'\x01\xff", SG_STACKS_OFFCPU, &result);

	assert_int_equal(result, 0);
	assert_well_formed(svg);
	assert_null(strstr(svg, "<script"));
	assert_non_null(strstr(svg, "&lt;script&gt;alert(1)&lt;/script&gt;"));
	assert_non_null(strstr(svg, "a&amp;b&quot;c&apos;d"));
	assert_non_null(strstr(svg, "title &lt;&amp;&gt;&quot;&apos;\xef\xbf\xbd\xef\xbf\xbd"));
	/* valid UTF-8 stays; bad bytes and control characters are U+FFFD */
	assert_non_null(strstr(svg, "\xc3\xbcn\xc3\xaf" "c\xc3\xb8" "d\xc3\xa9"));
	assert_non_null(strstr(svg, "\xf0\x9f\x94\xa5"));
	assert_non_null(strstr(svg, "bad\xef\xbf\xbd\xef\xbf\xbd utf8"));
	assert_non_null(strstr(svg, "ctl\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd ("));
	assert_non_null(strstr(svg, "overlong\xef\xbf\xbd\xef\xbf\xbd ("));
	assert_non_null(strstr(svg, "nonchar\xef\xbf\xbd ("));
	for (const unsigned char *p = (const unsigned char *)svg; *p; p++)
		assert_true(*p >= 0x20 || *p == '\n');
	free(svg);
}

/* Checks every frame fill of svg: blue above red off-CPU, red above blue on-CPU. */
static void assert_palette(const char *svg, enum sg_stack_kind kind)
{
	size_t fills = 0;
	for (const char *p = strstr(svg, "fill=\"rgb("); p; p = strstr(p + 1, "fill=\"rgb(")) {
		unsigned r, g, b;
		assert_int_equal(sscanf(p, "fill=\"rgb(%u,%u,%u)", &r, &g, &b), 3);
		assert_true(r <= 255 && g <= 255 && b <= 255);
		assert_true(kind == SG_STACKS_OFFCPU ? b > r : r > b);
		fills++;
	}
	assert_int_equal(fills, 7);
}

static void test_palettes(void **state)
{
	(void)state;
	int result;
	char *cool = svg_of(known, strlen(known), "t", SG_STACKS_OFFCPU, &result);
	char *warm = svg_of(known, strlen(known), "t", SG_STACKS_ONCPU, &result);
	char *again = svg_of(known, strlen(known), "t", SG_STACKS_ONCPU, &result);

	assert_palette(cool, SG_STACKS_OFFCPU);
	assert_palette(warm, SG_STACKS_ONCPU);
	assert_string_equal(warm, again); /* colours from names, nothing random */
	assert_non_null(strstr(warm, "on-CPU: 100 samples"));
	assert_non_null(strstr(warm, "<title>compute (30 samples, 30.00%)</title>"));
	free(cool);
	free(warm);
	free(again);
}

static void test_malformed_lines(void **state)
{
	(void)state;
	static const char text[] = "good;one 4\n"
				   "no count\n"
				   "a;;b 5\n"
				   ";a 5\n"
				   "a; 5\n"
				   "a 5x\n"
				   "a -5\n"
				   " 5\n"
				   "a 99999999999999999999999\n"
				   "\n"
				   "good;two 6"; /* no final newline */
	int result;
	char *svg = svg_of(text, sizeof(text) - 1, "t", SG_STACKS_ONCPU, &result);

	assert_int_equal(result, 8);
	assert_well_formed(svg);
	assert_non_null(strstr(svg, "<title>one (4 samples, 40.00%)</title>"));
	assert_non_null(strstr(svg, "<title>two (6 samples, 60.00%)</title>"));
	assert_non_null(strstr(svg, "8 malformed lines skipped"));
	free(svg);
}

/* Appends printf output to a growing buffer. */
static void buf_add(char **buf, size_t *len, size_t *cap, const char *text)
{
	size_t n = strlen(text);
	if (*len + n + 1 > *cap) {
		*cap = (*len + n + 1) * 2;
		*buf = realloc(*buf, *cap);
		assert_non_null(*buf);
	}
	memcpy(*buf + *len, text, n + 1);
	*len += n;
}

static void test_narrow_frames_elided(void **state)
{
	(void)state;
	char *text = NULL, line[64];
	size_t len = 0, cap = 0;
	int result;

	buf_add(&text, &len, &cap, "main;big 1000000\n");
	for (int i = 0; i < 3000; i++) {
		snprintf(line, sizeof(line), "main;tiny%d 1\n", i);
		buf_add(&text, &len, &cap, line);
	}
	char *svg = svg_of(text, len, "t", SG_STACKS_ONCPU, &result);
	assert_int_equal(result, 0);
	assert_well_formed(svg);
	assert_non_null(strstr(svg, "; 3000 frames not drawn"));
	assert_int_equal(count_of(svg, "<rect"), 1 + 3);
	free(svg);
	free(text);
}

static void test_frame_cap(void **state)
{
	(void)state;
	char *text = NULL, frame[32];
	size_t len = 0, cap = 0;
	int result;

	/* 1000 stacks of 20 frames each, every frame 0.1 % wide: 20000 drawable frames */
	for (int i = 0; i < 1000; i++) {
		for (int d = 0; d < 20; d++) {
			snprintf(frame, sizeof(frame), "%sf%d_%d", d ? ";" : "", i, d);
			buf_add(&text, &len, &cap, frame);
		}
		buf_add(&text, &len, &cap, " 1\n");
	}
	char *svg = svg_of(text, len, "t", SG_STACKS_OFFCPU, &result);
	assert_int_equal(result, 0);
	assert_int_equal(count_of(svg, "<rect"), 1 + 1 + SG_FLAME_MAX_FRAMES);
	char want[64];
	snprintf(want, sizeof(want), "; %d frames not drawn", 20000 - SG_FLAME_MAX_FRAMES);
	assert_non_null(strstr(svg, want));
	assert_well_formed(svg);
	free(svg);
	free(text);
}

static void test_depth_limit(void **state)
{
	(void)state;
	char *text = NULL;
	size_t len = 0, cap = 0;
	int result;

	for (int d = 0; d < SG_FLAME_MAX_DEPTH; d++)
		buf_add(&text, &len, &cap, d ? ";f" : "f");
	buf_add(&text, &len, &cap, " 1\n");
	char *svg = svg_of(text, len, "t", SG_STACKS_OFFCPU, &result);
	assert_int_equal(result, 0);
	assert_int_equal(count_of(svg, "<rect"), 1 + 1 + SG_FLAME_MAX_DEPTH);
	free(svg);
	text[len - 3] = '\0'; /* one frame more */
	len -= 3;
	buf_add(&text, &len, &cap, ";f 1\n");
	svg = svg_of(text, len, "t", SG_STACKS_OFFCPU, &result);
	assert_int_equal(result, 1);
	assert_non_null(strstr(svg, "no samples"));
	free(svg);
	free(text);
}

static void test_empty_graph(void **state)
{
	(void)state;
	int result;
	char *svg = svg_of("", 0, "off-CPU", SG_STACKS_OFFCPU, &result);

	assert_int_equal(result, 0);
	assert_well_formed(svg);
	assert_non_null(strstr(svg, "no samples"));
	assert_int_equal(count_of(svg, "<title>"), 0);
	free(svg);
}

static void test_write_error(void **state)
{
	(void)state;
	FILE *full = fopen("/dev/full", "w");

	assert_non_null(full);
	assert_int_equal(sg_flamegraph_write(full, known, strlen(known), "t", SG_STACKS_ONCPU), -EIO);
	fclose(full);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_known_graph),
		cmocka_unit_test(test_no_external_reference),
		cmocka_unit_test(test_hostile_names),
		cmocka_unit_test(test_palettes),
		cmocka_unit_test(test_malformed_lines),
		cmocka_unit_test(test_narrow_frames_elided),
		cmocka_unit_test(test_frame_cap),
		cmocka_unit_test(test_depth_limit),
		cmocka_unit_test(test_empty_graph),
		cmocka_unit_test(test_write_error),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

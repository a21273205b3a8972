/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "flamegraph.h"

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define SVG_WIDTH 1200.0
#define SVG_XPAD 10.0
#define SVG_TOP 60.0     /* below the header */
#define SVG_BOTTOM 10.0
#define SVG_ROW 16.0     /* a frame's height with the gap above it */
#define SVG_CHAR 7.2     /* width of a 12px monospace character */
#define BLOCK_FRAMES 1024

struct frame {
	const char *name; /* in the folded text */
	size_t name_len;
	uint64_t total;
	struct frame *child, *next; /* first child; next sibling */
	struct frame *recent;       /* the child last added to */
	size_t nchildren;
	bool drawn;
};

struct frame_block {
	struct frame_block *next;
	size_t used;
	struct frame frames[BLOCK_FRAMES];
};

struct graph {
	struct frame root;
	struct frame_block *blocks;
	size_t max_children;
	size_t stacks;          /* well-formed lines */
	size_t drawn, elided;   /* frames drawn and left out */
	size_t depth;           /* rows drawn, the root's included */
	uint64_t min_total;     /* the narrowest frame drawn */
	struct frame **scratch; /* max_children, for sorting siblings */
	double scale, height;   /* pixels per count; the SVG's height */
	const char *unit;
};

static struct frame *frame_new(struct graph *g)
{
	if (!g->blocks || g->blocks->used == BLOCK_FRAMES) {
		struct frame_block *block = calloc(1, sizeof(*block));
		if (!block)
			return NULL;
		block->next = g->blocks;
		g->blocks = block;
	}
	return &g->blocks->frames[g->blocks->used++];
}

static struct frame *child_get(struct graph *g, struct frame *parent, const char *name, size_t len)
{
	struct frame *child = parent->recent;

	if (!child || child->name_len != len || memcmp(child->name, name, len) != 0) {
		for (child = parent->child; child; child = child->next)
			if (child->name_len == len && memcmp(child->name, name, len) == 0)
				break;
	}
	if (!child) {
		if (!(child = frame_new(g)))
			return NULL;
		*child = (struct frame){ .name = name, .name_len = len, .next = parent->child };
		parent->child = child;
		if (++parent->nchildren > g->max_children)
			g->max_children = parent->nchildren;
	}
	parent->recent = child;
	return child;
}

/* Splits "FRAMES COUNT" of a line. Returns 0, or -EINVAL when the line is malformed. */
static int line_parse(const char *line, size_t len, size_t *frames_len, uint64_t *count)
{
	const char *space = memrchr(line, ' ', len);
	if (!space || space == line || space + 1 == line + len)
		return -EINVAL;
	uint64_t value = 0;
	for (const char *p = space + 1; p < line + len; p++) {
		if (*p < '0' || *p > '9' || value > (UINT64_MAX - 9) / 10)
			return -EINVAL;
		value = value * 10 + (uint64_t)(*p - '0');
	}
	*frames_len = (size_t)(space - line);
	size_t depth = 1;
	for (const char *p = line; p < space; p++) {
		if (*p != ';')
			continue;
		if (p == line || p + 1 == space || p[1] == ';' || ++depth > SG_FLAME_MAX_DEPTH)
			return -EINVAL;
	}
	*count = value;
	return 0;
}

static int tree_add(struct graph *g, const char *frames, size_t len, uint64_t count)
{
	struct frame *node = &g->root;
	const char *p = frames, *end = frames + len;

	node->total = sg_count_add(node->total, count);
	while (p < end) {
		const char *semi = memchr(p, ';', (size_t)(end - p));
		const char *stop = semi ? semi : end;
		if (!(node = child_get(g, node, p, (size_t)(stop - p))))
			return -ENOMEM;
		node->total = sg_count_add(node->total, count);
		p = stop + 1;
	}
	return 0;
}

/* Builds the tree; returns the malformed lines, or -ENOMEM. */
static int tree_build(struct graph *g, const char *folded, size_t len)
{
	const char *p = folded, *end = folded + len;
	int malformed = 0;

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t line_len = (size_t)((nl ? nl : end) - p), frames_len;
		uint64_t count;
		const char *line = p;

		p = nl ? nl + 1 : end;
		if (line_len == 0)
			continue;
		if (line_parse(line, line_len, &frames_len, &count) < 0) {
			malformed++;
			continue;
		}
		int err = tree_add(g, line, frames_len, count);
		if (err)
			return err;
		g->stacks++;
	}
	return malformed;
}

static size_t subtree_size(const struct frame *f)
{
	size_t n = 1;
	for (const struct frame *c = f->child; c; c = c->next)
		n += subtree_size(c);
	return n;
}

static int frame_order(const void *a, const void *b)
{
	const struct frame *x = *(const struct frame *const *)a, *y = *(const struct frame *const *)b;
	int diff = memcmp(x->name, y->name, x->name_len < y->name_len ? x->name_len : y->name_len);
	return diff ? diff : (x->name_len > y->name_len) - (x->name_len < y->name_len);
}

/* Sorts f's children by name and marks those to draw, depth first. */
static void tree_plan(struct graph *g, struct frame *f, size_t depth)
{
	size_t n = 0;
	for (struct frame *c = f->child; c; c = c->next)
		g->scratch[n++] = c;
	qsort(g->scratch, n, sizeof(*g->scratch), frame_order);
	for (size_t i = 0; i < n; i++)
		g->scratch[i]->next = i + 1 < n ? g->scratch[i + 1] : NULL;
	f->child = n ? g->scratch[0] : NULL;
	for (struct frame *c = f->child; c; c = c->next) {
		c->drawn = c->total >= g->min_total && g->drawn < SG_FLAME_MAX_FRAMES;
		if (!c->drawn) {
			g->elided += subtree_size(c);
			continue;
		}
		g->drawn++;
		if (depth + 2 > g->depth)
			g->depth = depth + 2;
		tree_plan(g, c, depth + 1);
	}
}

/* One character of s (n > 0 bytes): its code point in *cp and the bytes it takes. Bytes that are
 * not UTF-8, control characters and code points XML forbids are U+FFFD (one byte taken when invalid). */
static size_t utf8_char(const unsigned char *s, size_t n, uint32_t *cp)
{
	size_t len = s[0] < 0x80 ? 1 : s[0] >= 0xc2 && s[0] <= 0xdf ? 2 : s[0] >= 0xe0 && s[0] <= 0xef ? 3
		   : s[0] >= 0xf0 && s[0] <= 0xf4 ? 4 : 0;
	static const uint32_t min[5] = { 0, 0, 0x80, 0x800, 0x10000 };
	uint32_t value = len == 1 ? s[0] : len == 2 ? s[0] & 0x1fu : len == 3 ? s[0] & 0x0fu : s[0] & 0x07u;
	bool ok = len > 0 && len <= n;

	for (size_t i = 1; ok && i < len; i++) {
		ok = (s[i] & 0xc0) == 0x80;
		value = value << 6 | (s[i] & 0x3fu);
	}
	if (ok && (value < min[len] || value > 0x10ffff || (value >= 0xd800 && value <= 0xdfff)))
		ok = false;
	if (!ok) {
		*cp = 0xfffd;
		return 1;
	}
	*cp = value < 0x20 || value == 0x7f || value == 0xfffe || value == 0xffff ? 0xfffd : value;
	return len;
}

static size_t utf8_length(const char *s, size_t len)
{
	size_t chars = 0;
	uint32_t cp;
	for (size_t i = 0; i < len; chars++)
		i += utf8_char((const unsigned char *)s + i, len - i, &cp);
	return chars;
}

/* Writes at most max_chars characters of s (len bytes), escaped for XML text and attributes. */
static void xml_put(FILE *out, const char *s, size_t len, size_t max_chars)
{
	uint32_t cp;

	for (size_t i = 0, chars = 0; i < len && chars < max_chars; chars++) {
		i += utf8_char((const unsigned char *)s + i, len - i, &cp);
		switch (cp) {
		case '<': fputs("&lt;", out); break;
		case '>': fputs("&gt;", out); break;
		case '&': fputs("&amp;", out); break;
		case '"': fputs("&quot;", out); break;
		case '\'': fputs("&apos;", out); break;
		default:
			if (cp < 0x80) {
				fputc((int)cp, out);
			} else if (cp < 0x800) {
				fputc((int)(0xc0 | cp >> 6), out);
				fputc((int)(0x80 | (cp & 0x3f)), out);
			} else if (cp < 0x10000) {
				fputc((int)(0xe0 | cp >> 12), out);
				fputc((int)(0x80 | (cp >> 6 & 0x3f)), out);
				fputc((int)(0x80 | (cp & 0x3f)), out);
			} else {
				fputc((int)(0xf0 | cp >> 18), out);
				fputc((int)(0x80 | (cp >> 12 & 0x3f)), out);
				fputc((int)(0x80 | (cp >> 6 & 0x3f)), out);
				fputc((int)(0x80 | (cp & 0x3f)), out);
			}
		}
	}
}

/* A colour from the name's FNV-1a hash: warm on-CPU, cool (blue to green) off-CPU. */
static void frame_colour(const struct frame *f, enum sg_stack_kind kind, unsigned rgb[3])
{
	uint32_t hash = 2166136261u;
	for (size_t i = 0; i < f->name_len; i++)
		hash = (hash ^ (unsigned char)f->name[i]) * 16777619u;
	unsigned v1 = hash & 0xff, v2 = hash >> 8 & 0xff, v3 = hash >> 16 & 0xff;
	if (kind == SG_STACKS_OFFCPU) {
		rgb[0] = 40 * v1 / 255;
		rgb[1] = 110 + 110 * v2 / 255;
		rgb[2] = 150 + 105 * v3 / 255;
	} else {
		rgb[0] = 205 + 50 * v3 / 255;
		rgb[1] = 230 * v1 / 255;
		rgb[2] = 55 * v2 / 255;
	}
}

static void frame_draw(FILE *out, const struct graph *g, const struct frame *f, size_t depth, uint64_t offset,
		       enum sg_stack_kind kind)
{
	double x = SVG_XPAD + (double)offset * g->scale, width = (double)f->total * g->scale;
	double y = g->height - SVG_BOTTOM - (double)(depth + 1) * SVG_ROW;
	unsigned rgb[3];

	frame_colour(f, kind, rgb);
	fputs("<g><title>", out);
	xml_put(out, f->name, f->name_len, SIZE_MAX);
	fprintf(out, " (%" PRIu64 " %s, %.2f%%)</title><rect x=\"%.2f\" y=\"%.1f\" width=\"%.2f\" height=\"%.1f\" "
		"fill=\"rgb(%u,%u,%u)\"/>", f->total, g->unit, 100.0 * (double)f->total / (double)g->root.total, x, y,
		width, SVG_ROW - 1, rgb[0], rgb[1], rgb[2]);
	size_t fit = width > 6 ? (size_t)((width - 6) / SVG_CHAR) : 0, chars = utf8_length(f->name, f->name_len);
	if (fit >= 3) {
		fprintf(out, "<text x=\"%.2f\" y=\"%.1f\">", x + 3, y + 11.5);
		xml_put(out, f->name, f->name_len, chars <= fit ? chars : fit - 2);
		fputs(chars <= fit ? "</text>" : "..</text>", out);
	}
	fputs("</g>\n", out);
	for (const struct frame *c = f->child; c; offset += c->total, c = c->next)
		if (c->drawn)
			frame_draw(out, g, c, depth + 1, offset, kind);
}

static void svg_write(FILE *out, struct graph *g, const char *title, enum sg_stack_kind kind, int malformed)
{
	fprintf(out, "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"no\"?>\n"
		"<svg xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\" width=\"%.0f\" height=\"%.0f\" "
		"viewBox=\"0 0 %.0f %.0f\">\n"
		"<style>text{font-family:monospace;font-size:12px;fill:#000}"
		"rect:hover{stroke:#000;stroke-width:1}</style>\n"
		"<rect x=\"0\" y=\"0\" width=\"100%%\" height=\"100%%\" fill=\"#f8f8f4\"/>\n"
		"<text x=\"%.0f\" y=\"24\" text-anchor=\"middle\" style=\"font-size:17px\">",
		SVG_WIDTH, g->height, SVG_WIDTH, g->height, SVG_WIDTH / 2);
	xml_put(out, title, strlen(title), SIZE_MAX);
	fprintf(out, "</text>\n<text x=\"%.0f\" y=\"44\">", SVG_XPAD);
	if (g->root.total == 0)
		fputs("no samples", out);
	else if (kind == SG_STACKS_OFFCPU)
		fprintf(out, "off-CPU: %" PRIu64 " us blocked (%.3f s) in %zu stacks", g->root.total,
			(double)g->root.total / 1e6, g->stacks);
	else
		fprintf(out, "on-CPU: %" PRIu64 " samples in %zu stacks", g->root.total, g->stacks);
	if (g->elided)
		fprintf(out, "; %zu frames not drawn (narrower than 0.1%% or beyond %d frames)", g->elided,
			SG_FLAME_MAX_FRAMES);
	if (malformed)
		fprintf(out, "; %d malformed lines skipped", malformed);
	fputs("</text>\n", out);
	if (g->root.total)
		frame_draw(out, g, &g->root, 0, 0, kind);
	fputs("</svg>\n", out);
}

int sg_flamegraph_write(FILE *out, const char *folded, size_t len, const char *title, enum sg_stack_kind kind)
{
	struct graph g = {
		.root = { .name = "all", .name_len = 3 },
		.unit = kind == SG_STACKS_OFFCPU ? "us" : "samples",
	};
	int malformed = tree_build(&g, folded, len);
	int err = malformed < 0 ? malformed : 0;

	if (!err && g.max_children && !(g.scratch = malloc(g.max_children * sizeof(*g.scratch))))
		err = -ENOMEM;
	if (!err) {
		g.min_total = g.root.total / 1000 + (g.root.total % 1000 != 0); /* 0.1 %, rounded up */
		g.depth = g.root.total ? 1 : 0;
		if (g.root.total)
			tree_plan(&g, &g.root, 0);
		g.scale = g.root.total ? (SVG_WIDTH - 2 * SVG_XPAD) / (double)g.root.total : 0;
		g.height = SVG_TOP + (double)g.depth * SVG_ROW + SVG_BOTTOM;
		svg_write(out, &g, title, kind, malformed);
		if (fflush(out) != 0 || ferror(out))
			err = -EIO;
	}
	while (g.blocks) {
		struct frame_block *next = g.blocks->next;
		free(g.blocks);
		g.blocks = next;
	}
	free(g.scratch);
	return err ? err : malformed;
}

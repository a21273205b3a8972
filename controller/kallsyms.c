/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "kallsyms.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define KSYM_NAME_MAX 512          /* KSYM_NAME_LEN */
#define KSYM_STOP UINT32_MAX       /* module of an end-of-text marker: covers nothing */
#define KALLSYMS_CHUNK (64 * 1024) /* read size for sg_kallsyms_load */

/* Makes *area (of *bytes bytes, an anonymous mapping or NULL) hold at least need bytes. */
static int area_reserve(void **area, size_t *bytes, size_t need)
{
	if (need <= *bytes)
		return 0;
	size_t want = *bytes ? *bytes : 256 * 1024;
	while (want < need)
		want *= 2;
	void *p = *area ? mremap(*area, *bytes, want, MREMAP_MAYMOVE)
			: mmap(NULL, want, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return -ENOMEM;
	*area = p;
	*bytes = want;
	return 0;
}

/* Appends len bytes and a NUL to the blob; *off gets where they start. */
static int blob_add(struct sg_ksyms *ks, const char *s, size_t len, uint32_t *off)
{
	if (ks->blob_len + len + 2 > UINT32_MAX)
		return -ENOMEM;
	int err = area_reserve((void **)&ks->blob, &ks->blob_bytes, ks->blob_len + len + 2);
	if (err)
		return err;
	if (ks->blob_len == 0)
		ks->blob[ks->blob_len++] = '\0';
	*off = (uint32_t)ks->blob_len;
	memcpy(ks->blob + ks->blob_len, s, len);
	ks->blob_len += len;
	ks->blob[ks->blob_len++] = '\0';
	return 0;
}

static bool is_text_type(char type)
{
	return type == 't' || type == 'T' || type == 'w' || type == 'W';
}

/* One line without its newline: "ADDR TYPE NAME" or "ADDR TYPE NAME\t[MODULE]".
 * Returns 1 when it is a text symbol to keep, 0 to skip it, -EINVAL for junk. */
static int line_split(const char *line, size_t len, uint64_t *addr, const char **name, size_t *name_len,
		      const char **module, size_t *module_len)
{
	size_t i = 0;
	uint64_t value = 0;

	for (; i < len && i < 16; i++) {
		char c = line[i];
		unsigned digit = c >= '0' && c <= '9' ? (unsigned)(c - '0')
			       : c >= 'a' && c <= 'f' ? (unsigned)(c - 'a' + 10)
			       : c >= 'A' && c <= 'F' ? (unsigned)(c - 'A' + 10) : 16;
		if (digit == 16)
			break;
		value = value << 4 | digit;
	}
	if (i == 0 || i + 4 > len || line[i] != ' ' || line[i + 2] != ' ')
		return -EINVAL;
	char type = line[i + 1];
	const char *start = line + i + 3, *end = line + len;
	const char *stop = start;
	while (stop < end && *stop != '\t' && *stop != ' ')
		stop++;
	if (stop == start || stop - start >= KSYM_NAME_MAX)
		return -EINVAL;
	*addr = value;
	*name = start;
	*name_len = (size_t)(stop - start);
	*module = NULL;
	*module_len = 0;
	if (stop < end) {
		const char *open = stop + 1;
		if (*stop != '\t' || end - open < 3 || *open != '[' || end[-1] != ']')
			return -EINVAL;
		*module = open + 1;
		*module_len = (size_t)(end - 1 - *module);
		if (memchr(*module, ']', *module_len) || memchr(*module, '[', *module_len))
			return -EINVAL;
	}
	if (!is_text_type(type) || (*name_len > 6 && memcmp(*name, "__pfx_", 6) == 0))
		return 0;
	return 1;
}

/* Modules' symbols come together, so the last module name is reused while it repeats. */
static int module_offset(struct sg_ksyms *ks, const char *module, size_t module_len, uint32_t *off)
{
	if (!module) {
		*off = 0;
		return 0;
	}
	if (ks->nsyms > 0) {
		uint32_t last = ks->syms[ks->nsyms - 1].module;
		if (last && strlen(ks->blob + last) == module_len && memcmp(ks->blob + last, module, module_len) == 0) {
			*off = last;
			return 0;
		}
	}
	return blob_add(ks, module, module_len, off);
}

int sg_kallsyms_parse(struct sg_ksyms *ks, const char *buf, size_t len)
{
	const char *p = buf, *end = buf + len;

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *line_end = nl ? nl : end;
		uint64_t addr;
		const char *name, *module;
		size_t name_len, module_len;
		int kept = line_split(p, (size_t)(line_end - p), &addr, &name, &name_len, &module, &module_len);

		p = nl ? nl + 1 : end;
		if (kept < 0) {
			ks->junk++;
			continue;
		}
		if (kept == 0)
			continue;
		struct sg_ksym sym = { .addr = addr };
		int err = module_offset(ks, module, module_len, &sym.module);
		if (!err)
			err = blob_add(ks, name, name_len, &sym.name);
		if (!err)
			err = area_reserve((void **)&ks->syms, &ks->syms_bytes, (ks->nsyms + 1) * sizeof(sym));
		if (err)
			return err;
		ks->syms[ks->nsyms++] = sym;
		if (addr)
			ks->nonzero++;
	}
	return 0;
}

static size_t leading_underscores(const char *name)
{
	size_t n = 0;
	while (name[n] == '_')
		n++;
	return n;
}

/* By address; at one address the preferred name first: fewer leading underscores, then first listed.
 * blob: the table's names. */
static int ksym_order(const void *a, const void *b, void *blob)
{
	const struct sg_ksym *x = a, *y = b;
	const char *sort_blob = blob;

	if (x->addr != y->addr)
		return x->addr < y->addr ? -1 : 1;
	size_t ux = leading_underscores(sort_blob + x->name), uy = leading_underscores(sort_blob + y->name);
	if (ux != uy)
		return ux < uy ? -1 : 1;
	return x->name < y->name ? -1 : x->name > y->name;
}

int sg_kallsyms_finish(struct sg_ksyms *ks)
{
	if (ks->nsyms == 0)
		return -ENOENT;
	if (ks->nonzero == 0)
		return -EPERM;
	qsort_r(ks->syms, ks->nsyms, sizeof(*ks->syms), ksym_order, ks->blob);
	size_t kept = 0;
	for (size_t i = 0; i < ks->nsyms; i++) {
		struct sg_ksym sym = ks->syms[i];
		if (kept > 0 && ks->syms[kept - 1].addr == sym.addr)
			continue;
		const char *name = ks->blob + sym.name;
		if (sym.module == 0 && (strcmp(name, "_etext") == 0 || strcmp(name, "_einittext") == 0))
			sym.module = KSYM_STOP;
		ks->syms[kept++] = sym;
	}
	ks->nsyms = kept;
	return 0;
}

int sg_kallsyms_load(const char *path, struct sg_ksyms *ks)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	char *chunk = malloc(KALLSYMS_CHUNK);
	int err = chunk ? 0 : -ENOMEM;
	size_t held = 0;

	while (!err) {
		ssize_t got = read(fd, chunk + held, KALLSYMS_CHUNK - held);
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0) {
			err = -errno;
			break;
		}
		held += (size_t)got;
		if (got == 0 || held == KALLSYMS_CHUNK) {
			/* Whole lines now; a line longer than the chunk is cut and counted as junk. */
			const char *last_nl = got == 0 ? NULL : memrchr(chunk, '\n', held);
			size_t used = got == 0 ? held : last_nl ? (size_t)(last_nl - chunk) + 1 : held;
			err = sg_kallsyms_parse(ks, chunk, used);
			memmove(chunk, chunk + used, held - used);
			held -= used;
			if (got == 0)
				break;
		}
	}
	free(chunk);
	close(fd);
	return err ? err : sg_kallsyms_finish(ks);
}

const struct sg_ksym *sg_kallsyms_find(const struct sg_ksyms *ks, uint64_t addr)
{
	size_t lo = 0, hi = ks->nsyms;

	/* The first symbol above addr is at lo once the search ends. */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (ks->syms[mid].addr <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == 0 || addr == 0)
		return NULL;
	const struct sg_ksym *sym = &ks->syms[lo - 1];
	if (sym->module == KSYM_STOP)
		return NULL;
	uint64_t end = sym->addr + SG_KSYM_TAIL < sym->addr ? UINT64_MAX : sym->addr + SG_KSYM_TAIL;
	if (lo < ks->nsyms) {
		const struct sg_ksym *next = &ks->syms[lo];
		if (next->module == sym->module || next->module == KSYM_STOP || next->addr < end)
			end = next->addr;
	}
	return addr < end ? sym : NULL;
}

void sg_kallsyms_free(struct sg_ksyms *ks)
{
	if (ks->syms)
		munmap(ks->syms, ks->syms_bytes);
	if (ks->blob)
		munmap(ks->blob, ks->blob_bytes);
	*ks = (struct sg_ksyms){ 0 };
}

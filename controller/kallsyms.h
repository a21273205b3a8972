/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The kernel's text symbols from /proc/kallsyms, sorted by address, for
 * naming kernel stack frames. Built only when a capture symbolizes stacks
 * (the table is about 2.5 MiB for a kernel of 64,000 functions) and held in its own
 * anonymous mappings, so freeing it gives the memory back to the system at
 * once rather than leaving it in the heap of a guardian that must stay small.
 *
 * Which symbols: text ones (types t, T, w, W), without the `__pfx_` padding
 * symbols the kernel puts before each function. Where several share an
 * address, the one with the fewest leading underscores is kept (then the
 * first listed). A symbol covers the addresses up to the next symbol of its
 * region (the core kernel, or one module, bpf program set or trampoline set),
 * and the last symbol of a region at most SG_KSYM_TAIL bytes; the ends of
 * the core text (_etext, _einittext) cover nothing. Any other address is
 * unknown. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#define SG_KSYM_TAIL 4096 /* bytes the last symbol of a region may cover */

struct sg_ksym {
	uint64_t addr;
	uint32_t name;   /* offset of the name in sg_ksyms.blob */
	uint32_t module; /* offset of the module name in blob; 0: the core kernel ("") */
};

struct sg_ksyms {
	struct sg_ksym *syms; /* nsyms, sorted by address once finished */
	size_t nsyms, syms_bytes;
	char *blob; /* NUL-terminated names, blob[0] == '\0' */
	size_t blob_len, blob_bytes;
	size_t nonzero; /* symbols whose address is not 0 */
	size_t junk;    /* lines that are not a kallsyms line, skipped */
};

/* Adds the text symbols of the kallsyms lines in buf (len bytes, not
 * NUL-terminated; the last line may lack its newline). A line that does not
 * parse is counted in junk and skipped. Returns 0 or -ENOMEM. */
int sg_kallsyms_parse(struct sg_ksyms *ks, const char *buf, size_t len);

/* Sorts what was parsed for lookups. Returns 0; -ENOENT when there is no
 * text symbol; -EPERM when every address is 0 (kptr_restrict hides them from
 * a reader without CAP_SYSLOG), so the table is unusable. */
int sg_kallsyms_finish(struct sg_ksyms *ks);

/* Parses and finishes the file at path (normally /proc/kallsyms). Returns 0,
 * -errno from open or read, or an error of sg_kallsyms_parse or _finish. */
int sg_kallsyms_load(const char *path, struct sg_ksyms *ks);

/* The symbol covering addr in a finished table, or NULL when it is unknown. */
const struct sg_ksym *sg_kallsyms_find(const struct sg_ksyms *ks, uint64_t addr);

static inline const char *sg_ksym_name(const struct sg_ksyms *ks, const struct sg_ksym *sym)
{
	return ks->blob + sym->name;
}

/* "" for the core kernel. */
static inline const char *sg_ksym_module(const struct sg_ksyms *ks, const struct sg_ksym *sym)
{
	return ks->blob + sym->module;
}

/* Unmaps the table; *ks is left empty and may be parsed into again. */
void sg_kallsyms_free(struct sg_ksyms *ks);

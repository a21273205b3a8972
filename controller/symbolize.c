/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "symbolize.h"

#include <dirent.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <malloc.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dwload.h"
#include "kallsyms.h"

#define DELETED_SUFFIX " (deleted)"
#define DEBUG_BUILD_ID_DIR "/usr/lib/debug/.build-id/"
#define DEBUG_BUILD_ID_MAX 64 /* bytes of a build-id looked up (GNU ones are 20) */

struct sym_proc {
	uint32_t tgid;
	int err;    /* of the add; then dwfl is NULL */
	Dwfl *dwfl;
};

struct sg_symbolizer {
	struct sg_ksyms kernel;
	bool kernel_tried;
	int kernel_err;
	struct sg_dw dw;
	int dw_err; /* of loading libdw: then every user address is unknown */
	Dwfl_Callbacks callbacks;
	struct sym_proc *procs; /* nprocs, sorted by tgid */
	size_t nprocs;
	size_t debug_files; /* separate debug files open (libdw keeps each one's descriptor) */
};

/* A /proc/PID/map_files entry: the mapping that begins at start. */
struct map_file {
	uint64_t start;
	char name[40]; /* "START-END" in hex */
};

/* What the find_elf callback needs, which libdw cannot pass it: the process,
 * the library's functions, and the process's map_files listed once. */
struct open_ctx {
	pid_t tgid;
	const struct sg_dw *dw;
	size_t *debug_files;    /* the symbolizer's count */
	DIR *map_dir;           /* /proc/TGID/map_files, or NULL (not root, an old kernel) */
	struct map_file *files; /* nfiles, sorted by start */
	size_t nfiles;
};

/* Set while libdw may call find_elf; a symbolizer is used from one thread at a time. */
static __thread const struct open_ctx *opening;

static int map_file_order(const void *a, const void *b)
{
	uint64_t x = ((const struct map_file *)a)->start, y = ((const struct map_file *)b)->start;
	return (x > y) - (x < y);
}

/* Lists /proc/TGID/map_files into ctx; when it cannot be, files are opened by path. */
static void map_files_list(struct open_ctx *ctx)
{
	char path[64];
	size_t cap = 0;
	struct dirent *entry;

	snprintf(path, sizeof(path), "/proc/%d/map_files", (int)ctx->tgid);
	if (!(ctx->map_dir = opendir(path)))
		return;
	while ((entry = readdir(ctx->map_dir))) {
		char *dash;
		errno = 0;
		uint64_t start = strtoull(entry->d_name, &dash, 16);
		if (errno || *dash != '-' || strlen(entry->d_name) >= sizeof(ctx->files->name))
			continue;
		if (ctx->nfiles == cap) {
			struct map_file *grown = realloc(ctx->files, (cap ? cap * 2 : 64) * sizeof(*grown));
			if (!grown)
				break;
			ctx->files = grown;
			cap = cap ? cap * 2 : 64;
		}
		ctx->files[ctx->nfiles].start = start;
		strcpy(ctx->files[ctx->nfiles++].name, entry->d_name);
	}
	qsort(ctx->files, ctx->nfiles, sizeof(*ctx->files), map_file_order);
}

static void map_files_free(struct open_ctx *ctx)
{
	if (ctx->map_dir)
		closedir(ctx->map_dir);
	free(ctx->files);
}

static const struct map_file *map_file_find(const struct open_ctx *ctx, uint64_t start)
{
	struct map_file key = { .start = start };
	return ctx->nfiles ? bsearch(&key, ctx->files, ctx->nfiles, sizeof(key), map_file_order) : NULL;
}

/* Opens path (relative to dir_fd) when it is a regular file holding an ELF
 * object, else -1: a device is never opened, and a data file is not handed
 * to libdw, which would decompress a whole .gz or .xz to look inside. */
static int open_elf_file(int dir_fd, const char *path)
{
	struct stat st;
	unsigned char magic[SELFMAG];

	if (fstatat(dir_fd, path, &st, 0) < 0 || !S_ISREG(st.st_mode))
		return -1;
	int fd = openat(dir_fd, path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd >= 0 && (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || pread(fd, magic, SELFMAG, 0) != SELFMAG ||
			memcmp(magic, ELFMAG, SELFMAG) != 0)) {
		close(fd);
		fd = -1;
	}
	return fd;
}

/* Whether a maps name ends with " (deleted)"; *len: its length without it. */
static bool has_deleted_suffix(const char *name, size_t *len)
{
	size_t suffix = strlen(DELETED_SUFFIX);
	*len = strlen(name);
	if (*len <= suffix || strcmp(name + *len - suffix, DELETED_SUFFIX) != 0)
		return false;
	*len -= suffix;
	return true;
}

/* Opens a module's file: through /proc/TGID/map_files when the guardian may
 * (the very file the process mapped, even deleted or replaced since, or in
 * another mount namespace), else by path; a deleted file that cannot be
 * opened is read from the process's memory by libdw. */
static int find_elf(Dwfl_Module *mod, void **userdata, const char *name, Dwarf_Addr base, char **file_name,
		    Elf **elfp)
{
	const struct open_ctx *ctx = opening;
	size_t len;

	if (!ctx)
		return -1;
	if (name[0] != '/')
		return ctx->dw->linux_proc_find_elf(mod, userdata, name, base, file_name, elfp);
	Dwarf_Addr low = 0;
	ctx->dw->module_info(mod, NULL, &low, NULL, NULL, NULL, NULL, NULL);
	const struct map_file *file = map_file_find(ctx, low);
	bool deleted = has_deleted_suffix(name, &len);
	int fd = file ? open_elf_file(dirfd(ctx->map_dir), file->name) : deleted ? -1 : open_elf_file(AT_FDCWD, name);
	if (fd < 0)
		return !file && deleted ? ctx->dw->linux_proc_find_elf(mod, userdata, name, base, file_name, elfp) : -1;
	/* Handed over as an Elf read from a mapping of the file, not as the descriptor, which libdw
	 * would keep open per module: thousands for a capture of many processes. */
	Elf *elf = ctx->dw->elf_begin(fd, ELF_C_READ_MMAP, NULL);
	if (elf && ctx->dw->elf_cntl(elf, ELF_C_FDREAD) == 0) {
		*elfp = elf;
		*file_name = strndup(name, len); /* the path as mapped, libdw's name for the file */
	} else if (elf) {
		ctx->dw->elf_end(elf);
	}
	close(fd);
	return -1;
}

/* A module's separate debug file, found by its build-id where Debian's -dbgsym and -dbg
 * packages put it: /usr/lib/debug/.build-id/NN/REST.debug. libdw's standard search is not
 * used: after the same local search it asks debuginfod, whose client library it loads (with
 * libcurl and TLS libraries, 5 MiB, never unloaded), which keeps a cache under $HOME and may
 * go to the network: nothing a guardian may do in an incident. */
static int find_debuginfo(Dwfl_Module *mod, void **userdata, const char *modname, Dwarf_Addr base,
			  const char *file_name, const char *debuglink_file, GElf_Word debuglink_crc,
			  char **debuginfo_file_name)
{
	const struct open_ctx *ctx = opening;
	const unsigned char *bits;
	GElf_Addr vaddr;
	char path[sizeof(DEBUG_BUILD_ID_DIR) + 2 * DEBUG_BUILD_ID_MAX + sizeof("/.debug")];

	(void)userdata, (void)modname, (void)base, (void)file_name, (void)debuglink_file, (void)debuglink_crc;
	if (!ctx || *ctx->debug_files >= SG_SYMBOLIZER_MAX_DEBUG_FILES)
		return -1;
	int len = ctx->dw->module_build_id(mod, &bits, &vaddr);
	if (len < 2 || len > DEBUG_BUILD_ID_MAX)
		return -1;
	size_t n = (size_t)snprintf(path, sizeof(path), "%s%02x/", DEBUG_BUILD_ID_DIR, bits[0]);
	for (int i = 1; i < len; i++)
		n += (size_t)snprintf(path + n, sizeof(path) - n, "%02x", bits[i]);
	snprintf(path + n, sizeof(path) - n, ".debug");
	int fd = open_elf_file(AT_FDCWD, path);
	if (fd >= 0) {
		*debuginfo_file_name = strdup(path);
		++*ctx->debug_files;
	}
	return fd;
}

struct sg_symbolizer *sg_symbolizer_new(void)
{
	struct sg_symbolizer *sym = calloc(1, sizeof(*sym));

	if (!sym)
		return NULL;
	sym->dw_err = sg_dw_open(&sym->dw);
	sym->callbacks = (Dwfl_Callbacks){
		.find_elf = find_elf,
		.find_debuginfo = find_debuginfo,
	};
	return sym;
}

void sg_symbolizer_free(struct sg_symbolizer *sym)
{
	if (!sym)
		return;
	sg_kallsyms_free(&sym->kernel);
	for (size_t i = 0; i < sym->nprocs; i++)
		if (sym->procs[i].dwfl)
			sym->dw.end(sym->procs[i].dwfl);
	free(sym->procs);
	sg_dw_close(&sym->dw);
	free(sym);
	malloc_trim(0);
}

int sg_symbolizer_load_kernel(struct sg_symbolizer *sym)
{
	if (!sym->kernel_tried) {
		sym->kernel_tried = true;
		sym->kernel_err = sg_kallsyms_load("/proc/kallsyms", &sym->kernel);
		if (sym->kernel_err)
			sg_kallsyms_free(&sym->kernel);
	}
	return sym->kernel_err;
}

/* Opens a module's file now (arg: the library's functions); one that cannot be opened leaves its
 * addresses named FILE+0xOFFSET, and libdw does not try it again. */
static int open_elf(Dwfl_Module *mod, void **userdata, const char *name, Dwarf_Addr start, void *arg)
{
	const struct sg_dw *dw = arg;
	Dwarf_Addr bias;

	(void)userdata, (void)name, (void)start;
	dw->module_getelf(mod, &bias);
	return DWARF_CB_OK;
}

/* A Dwfl with the process's mappings and each mapped file opened, or NULL with *err set. */
static Dwfl *proc_dwfl(struct sg_symbolizer *sym, uint32_t tgid, int *err)
{
	const struct sg_dw *dw = &sym->dw;

	if (sym->dw_err) {
		*err = sym->dw_err;
		return NULL;
	}
	Dwfl *dwfl = dw->begin(&sym->callbacks);
	if (!dwfl) {
		*err = -ENOMEM;
		return NULL;
	}
	dw->report_begin(dwfl);
	int rc = dw->linux_proc_report(dwfl, (pid_t)tgid);
	dw->report_end(dwfl, NULL, NULL);
	if (rc != 0) {
		*err = rc < 0 ? -EINVAL : rc == ENOENT ? -ESRCH : -rc;
		dw->end(dwfl);
		return NULL;
	}
	struct open_ctx ctx = { .tgid = (pid_t)tgid, .dw = dw, .debug_files = &sym->debug_files };
	map_files_list(&ctx);
	opening = &ctx;
	dw->getmodules(dwfl, open_elf, (void *)dw, 0);
	opening = NULL;
	map_files_free(&ctx);
	*err = 0;
	return dwfl;
}

/* The entry of tgid, added (and read) when missing; NULL only when out of memory. */
static struct sym_proc *proc_get(struct sg_symbolizer *sym, uint32_t tgid)
{
	size_t lo = 0, hi = sym->nprocs;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (sym->procs[mid].tgid == tgid)
			return &sym->procs[mid];
		if (sym->procs[mid].tgid < tgid)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (sym->nprocs % 64 == 0) {
		struct sym_proc *grown = realloc(sym->procs, (sym->nprocs + 64) * sizeof(*grown));
		if (!grown)
			return NULL;
		sym->procs = grown;
	}
	struct sym_proc *proc = &sym->procs[lo];
	memmove(proc + 1, proc, (sym->nprocs - lo) * sizeof(*proc));
	sym->nprocs++;
	*proc = (struct sym_proc){ .tgid = tgid, .err = -ENOSPC };
	if (sym->nprocs <= SG_SYMBOLIZER_MAX_PROCS)
		proc->dwfl = proc_dwfl(sym, tgid, &proc->err);
	return proc;
}

int sg_symbolizer_add_pid(struct sg_symbolizer *sym, uint32_t tgid)
{
	struct sym_proc *proc = proc_get(sym, tgid);
	return proc ? proc->err : -ENOMEM;
}

static int unknown(char *out, size_t outlen, int err)
{
	snprintf(out, outlen, "[unknown]");
	return err;
}

int sg_symbolize_kernel(struct sg_symbolizer *sym, uint64_t addr, char *out, size_t outlen)
{
	int err = sg_symbolizer_load_kernel(sym);
	if (err)
		return unknown(out, outlen, err);
	const struct sg_ksym *ksym = sg_kallsyms_find(&sym->kernel, addr);
	if (!ksym)
		return unknown(out, outlen, -ENOENT);
	const char *module = sg_ksym_module(&sym->kernel, ksym);
	if (*module)
		snprintf(out, outlen, "%s [%s]", sg_ksym_name(&sym->kernel, ksym), module);
	else
		snprintf(out, outlen, "%s", sg_ksym_name(&sym->kernel, ksym));
	return 0;
}

/* "FILE+0xOFFSET" for an address in a module whose symbols are unknown; a
 * pseudo-file like "[vdso: 123]" is written "[vdso]". */
static void module_offset_name(const struct sg_dw *dw, Dwfl_Module *mod, uint64_t addr, char *out, size_t outlen)
{
	Dwarf_Addr start = 0;
	const char *name = dw->module_info(mod, NULL, &start, NULL, NULL, NULL, NULL, NULL);
	const char *base = name ? strrchr(name, '/') : NULL;
	base = base ? base + 1 : name ? name : "";
	size_t len;
	has_deleted_suffix(base, &len);
	if (base[0] == '[' && memchr(base, ':', len)) {
		len = (size_t)((const char *)memchr(base, ':', len) - base);
		snprintf(out, outlen, "%.*s]+0x%" PRIx64, (int)len, base, addr - start);
	} else {
		snprintf(out, outlen, "%.*s+0x%" PRIx64, (int)len, base, addr - start);
	}
}

int sg_symbolize_user(struct sg_symbolizer *sym, uint32_t tgid, uint64_t addr, char *out, size_t outlen)
{
	struct sym_proc *proc = proc_get(sym, tgid);
	if (!proc)
		return unknown(out, outlen, -ENOMEM);
	if (!proc->dwfl)
		return unknown(out, outlen, proc->err);
	Dwfl_Module *mod = addr ? sym->dw.addrmodule(proc->dwfl, addr) : NULL;
	if (!mod)
		return unknown(out, outlen, -ENOENT);
	GElf_Off offset;
	GElf_Sym elf_sym;
	struct open_ctx ctx = { .tgid = (pid_t)tgid, .dw = &sym->dw, .debug_files = &sym->debug_files };
	opening = &ctx; /* the first lookup in a module reads its symbols, maybe from a debug file */
	const char *name = sym->dw.module_addrinfo(mod, addr, &offset, &elf_sym, NULL, NULL, NULL);
	opening = NULL;
	if (!name || !*name) {
		module_offset_name(&sym->dw, mod, addr, out, outlen);
		return -ENOENT;
	}
	/* Without a symbol version ("__libc_start_main@@GLIBC_2.34"): the name the source knows. */
	const char *at = strchr(name, '@');
	snprintf(out, outlen, "%.*s", (int)(at && at != name ? (size_t)(at - name) : strlen(name)), name);
	return 0;
}

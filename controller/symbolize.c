/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "symbolize.h"

#include <dirent.h>
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
	char *debuginfo_path; /* NULL: libdw's default search path */
	struct sym_proc *procs; /* nprocs, sorted by tgid */
	size_t nprocs;
};

/* The process whose files libdw is opening and the library's functions: its
 * find_elf callback has no context argument, and a symbolizer is used from
 * one thread at a time. */
static __thread struct {
	pid_t tgid;
	const struct sg_dw *dw;
} opening;

/* Opens, through /proc/TGID/map_files, the regular file mapped at the module's
 * first address: the very file the process mapped, deleted or replaced since,
 * or in another mount namespace. -1 when that is not possible (not root, an
 * old kernel, a device mapping). */
static int open_map_file(Dwfl_Module *mod)
{
	Dwarf_Addr low = 0;
	char dir_path[64];

	opening.dw->module_info(mod, NULL, &low, NULL, NULL, NULL, NULL, NULL);
	snprintf(dir_path, sizeof(dir_path), "/proc/%d/map_files", (int)opening.tgid);
	DIR *dir = opendir(dir_path);
	if (!dir)
		return -1;
	int fd = -1;
	struct dirent *entry;
	while ((entry = readdir(dir))) {
		char *dash;
		errno = 0;
		unsigned long long start = strtoull(entry->d_name, &dash, 16);
		if (errno || *dash != '-' || start != low)
			continue;
		struct stat st;
		if (fstatat(dirfd(dir), entry->d_name, &st, 0) == 0 && S_ISREG(st.st_mode))
			fd = openat(dirfd(dir), entry->d_name, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
		if (fd >= 0 && (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))) {
			close(fd);
			fd = -1;
		}
		break;
	}
	closedir(dir);
	return fd;
}

static int find_elf(Dwfl_Module *mod, void **userdata, const char *name, Dwarf_Addr base, char **file_name,
		    Elf **elfp)
{
	if (name[0] == '/') {
		int fd = open_map_file(mod);
		if (fd >= 0) {
			size_t len = strlen(name), suffix = strlen(DELETED_SUFFIX);
			if (len > suffix && strcmp(name + len - suffix, DELETED_SUFFIX) == 0)
				len -= suffix;
			/* The path as mapped, for libdw's search of a separate debug file beside it. */
			*file_name = strndup(name, len);
			return fd;
		}
	}
	return opening.dw->linux_proc_find_elf(mod, userdata, name, base, file_name, elfp);
}

struct sg_symbolizer *sg_symbolizer_new(void)
{
	struct sg_symbolizer *sym = calloc(1, sizeof(*sym));

	if (!sym)
		return NULL;
	sym->dw_err = sg_dw_open(&sym->dw);
	sym->callbacks = (Dwfl_Callbacks){
		.find_elf = find_elf,
		.find_debuginfo = sym->dw.standard_find_debuginfo,
		.debuginfo_path = &sym->debuginfo_path,
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

static int open_elf(Dwfl_Module *mod, void **userdata, const char *name, Dwarf_Addr start, void *arg)
{
	Dwarf_Addr bias;

	(void)userdata, (void)name, (void)start, (void)arg;
	opening.dw->module_getelf(mod, &bias); /* a file that cannot be opened leaves FILE+0xOFFSET names */
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
	opening.tgid = (pid_t)tgid;
	opening.dw = dw;
	dw->getmodules(dwfl, open_elf, NULL, 0);
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
	size_t len = strlen(base), suffix = strlen(DELETED_SUFFIX);
	if (len > suffix && strcmp(base + len - suffix, DELETED_SUFFIX) == 0)
		len -= suffix;
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
	opening.tgid = (pid_t)tgid;
	opening.dw = &sym->dw;
	const char *name = sym->dw.module_addrinfo(mod, addr, &offset, &elf_sym, NULL, NULL, NULL);
	if (!name || !*name) {
		module_offset_name(&sym->dw, mod, addr, out, outlen);
		return -ENOENT;
	}
	snprintf(out, outlen, "%s", name);
	return 0;
}

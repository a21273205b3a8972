/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "dwload.h"

#include <dlfcn.h>
#include <errno.h>

/* Sets the member to the library's function of the same name, or fails the load. */
#define DW_SYM(member, symbol) \
	do { \
		*(void **)&dw->member = dlsym(dw->handle, #symbol); \
		if (!dw->member) \
			goto missing; \
	} while (0)

int sg_dw_open(struct sg_dw *dw)
{
	*dw = (struct sg_dw){ .handle = dlopen(SG_DW_SONAME, RTLD_NOW | RTLD_LOCAL) };
	if (!dw->handle)
		return -ELIBACC;
	DW_SYM(begin, dwfl_begin);
	DW_SYM(end, dwfl_end);
	DW_SYM(report_begin, dwfl_report_begin);
	DW_SYM(report_end, dwfl_report_end);
	DW_SYM(linux_proc_report, dwfl_linux_proc_report);
	DW_SYM(linux_proc_find_elf, dwfl_linux_proc_find_elf);
	DW_SYM(getmodules, dwfl_getmodules);
	DW_SYM(module_getelf, dwfl_module_getelf);
	DW_SYM(module_info, dwfl_module_info);
	DW_SYM(addrmodule, dwfl_addrmodule);
	DW_SYM(module_addrinfo, dwfl_module_addrinfo);
	DW_SYM(module_build_id, dwfl_module_build_id);
	DW_SYM(elf_begin, elf_begin);
	DW_SYM(elf_cntl, elf_cntl);
	DW_SYM(elf_end, elf_end);
	return 0;
missing:
	sg_dw_close(dw);
	return -ELIBACC;
}

void sg_dw_close(struct sg_dw *dw)
{
	if (dw->handle)
		dlclose(dw->handle);
	*dw = (struct sg_dw){ 0 };
}

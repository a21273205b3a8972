/* SPDX-License-Identifier: GPL-2.0-or-later */
/* elfutils' libdw, loaded with dlopen when a capture symbolizes stacks and
 * unloaded after: linked into the guardian, libdw and the libraries it needs
 * (libelf, zlib, bzip2) would add about 350 KiB to its resident memory all
 * the time, beyond the 4 MiB it must stay under. The functions used are
 * typed from elfutils' own header (libdw-dev at build time), so a call
 * through a pointer is checked like a direct one. */
#pragma once

#include <elfutils/libdwfl.h>

#define SG_DW_SONAME "libdw.so.1"

struct sg_dw {
	void *handle;
	__typeof__(&dwfl_begin) begin;
	__typeof__(&dwfl_end) end;
	__typeof__(&dwfl_report_begin) report_begin;
	__typeof__(&dwfl_report_end) report_end;
	__typeof__(&dwfl_linux_proc_report) linux_proc_report;
	__typeof__(&dwfl_linux_proc_find_elf) linux_proc_find_elf;
	__typeof__(&dwfl_getmodules) getmodules;
	__typeof__(&dwfl_module_getelf) module_getelf;
	__typeof__(&dwfl_module_info) module_info;
	__typeof__(&dwfl_addrmodule) addrmodule;
	__typeof__(&dwfl_module_addrinfo) module_addrinfo;
	__typeof__(&dwfl_module_build_id) module_build_id;
	__typeof__(&elf_begin) elf_begin; /* libelf's, loaded with libdw */
	__typeof__(&elf_cntl) elf_cntl;
	__typeof__(&elf_end) elf_end;
};

/* Loads SG_DW_SONAME and fills dw. Returns 0, or -ELIBACC when it is not
 * installed or lacks a function (dw is then left empty). */
int sg_dw_open(struct sg_dw *dw);

/* Unloads it; dw is left empty. An empty dw is ignored. */
void sg_dw_close(struct sg_dw *dw);

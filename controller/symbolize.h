/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Names for stack addresses, for captures. Kernel addresses through
 * /proc/kallsyms (kallsyms.h), read at the first kernel lookup, not before;
 * user addresses through elfutils' libdw (loaded by sg_symbolizer_new and
 * unloaded by sg_symbolizer_free, dwload.h), one Dwfl per process holding its
 * mappings and, once looked at, each mapped file's ELF (symbol table,
 * .gnu_debugdata, separate debug files under /usr/lib/debug).
 *
 * A process's mappings are read at sg_symbolizer_add_pid, or at the first
 * lookup of one of its addresses; after that, lookups use what was read even
 * when the process is gone. So a capture adds the processes a step may kill
 * BEFORE the kill. Reading the mappings (/proc/PID/maps, map_files) takes
 * the process's mmap lock for reading (newer kernels read maps under per-VMA
 * locks when they can, map_files never): for a process in the mmap_lock
 * freeze (a writer holds or waits for the lock) sg_symbolizer_add_pid waits
 * as long as that lasts, so a caller with a time budget must bound that
 * wait itself.
 * Mapped files are opened through /proc/PID/map_files when the guardian may
 * (root), which finds binaries deleted or replaced since they were mapped and
 * those of other mount namespaces, else by their path; only regular files
 * that begin as ELF objects are opened (a mapped data file is not).
 *
 * Everything is allocated at capture time and given back by
 * sg_symbolizer_free. Not thread-safe: one thread uses a symbolizer at a
 * time. */
#pragma once

#include <stddef.h>
#include <stdint.h>

/* Processes whose mappings are read; the addresses of others are unknown.
 * Each holds the symbol tables of its own files (libdw shares nothing
 * between Dwfls), so this bounds a capture's memory on a busy host. */
#define SG_SYMBOLIZER_MAX_PROCS 64
/* Separate debug files used at most; libdw keeps each one open, so this
 * bounds the descriptors a capture holds. Beyond it a file's own symbols
 * (symbol table, dynamic symbols, .gnu_debugdata) are used. */
#define SG_SYMBOLIZER_MAX_DEBUG_FILES 256
#define SG_SYMBOL_MAX 256            /* a name longer than this (with its NUL) is cut */

struct sg_symbolizer;

/* An empty symbolizer (reads nothing yet), or NULL when out of memory. */
struct sg_symbolizer *sg_symbolizer_new(void);

/* Frees the kernel table and every process's mappings, and gives freed heap
 * memory back to the system (malloc_trim). NULL is ignored. */
void sg_symbolizer_free(struct sg_symbolizer *sym);

/* Reads /proc/kallsyms unless already tried; later calls return the first
 * result. Returns 0; -EPERM when kallsyms shows every address as 0 (the
 * reader lacks CAP_SYSLOG under kptr_restrict); -ENOENT when it holds no text
 * symbol; -errno when it cannot be read; -ENOMEM. Kernel lookups call it. */
int sg_symbolizer_load_kernel(struct sg_symbolizer *sym);

/* Reads the mappings of process tgid now and opens its mapped files, so its
 * addresses can be named after it exits. Adding a process twice does nothing
 * (returns the first result). Returns 0; -ESRCH when it is gone; -ELIBACC
 * when libdw could not be loaded; -EACCES or
 * another -errno when its maps cannot be read; -ENOSPC beyond
 * SG_SYMBOLIZER_MAX_PROCS processes; -ENOMEM. A process whose add failed stays
 * failed: its addresses are unknown. */
int sg_symbolizer_add_pid(struct sg_symbolizer *sym, uint32_t tgid);

/* The name of kernel address addr into out (size outlen, at least 16):
 * "function", or "function [module]" for a module's, bpf program's or
 * trampoline's. Returns 0; when it is not named, out holds "[unknown]" and the
 * result is -ENOENT, or the error of sg_symbolizer_load_kernel. */
int sg_symbolize_kernel(struct sg_symbolizer *sym, uint64_t addr, char *out, size_t outlen);

/* The name of user address addr of process tgid into out (size outlen, at
 * least 16): "function", without a symbol version (@GLIBC_2.34). The
 * process is added first when it was not.
 * Returns 0; when it is not named, out holds "FILE+0xOFFSET" (FILE the mapped
 * file's base name, OFFSET from the start of its first mapping) where the
 * address is in a mapped file whose symbols could not be had, else
 * "[unknown]", and the result is -ENOENT or the error of
 * sg_symbolizer_add_pid. */
int sg_symbolize_user(struct sg_symbolizer *sym, uint32_t tgid, uint64_t addr, char *out, size_t outlen);

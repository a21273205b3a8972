/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Shared by unit tests: the address of a kernel text symbol, read from
 * /proc/kallsyms by a reader of its own (not the one under test). */
#pragma once

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

/* Fails the test when the symbol is absent or its address hidden (not root). */
static inline uint64_t kernel_symbol(const char *name)
{
	FILE *f = fopen("/proc/kallsyms", "r");
	char line[1024];
	uint64_t addr = 0;
	int found = 0;

	if (!f)
		fail_msg("/proc/kallsyms: %s", strerror(errno));
	while (!found && fgets(line, sizeof(line), f)) {
		char type, sym[512];
		if (sscanf(line, "%" SCNx64 " %c %511s", &addr, &type, sym) == 3 && (type == 'T' || type == 't') &&
		    strcmp(sym, name) == 0)
			found = 1;
	}
	fclose(f);
	if (!found)
		fail_msg("/proc/kallsyms has no text symbol %s", name);
	if (addr == 0)
		fail_msg("/proc/kallsyms shows zero addresses: this test needs root (CAP_SYSLOG)");
	return addr;
}

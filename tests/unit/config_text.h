/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Shared by unit tests that need a configuration: loads one from text,
 * printing its errors and failing the test when it has any. Include after
 * fixture.h. */
#pragma once

#include "config.h"

static inline void load(struct sg_config *cfg, const char *text)
{
	struct sg_config_errors errors = { 0 };

	int r = sg_config_load_string("t.ini", text, cfg, &errors);
	for (size_t i = 0; i < errors.count; i++)
		print_message("%s\n", errors.lines[i]);
	assert_int_equal(r, 0);
}

/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Constants the on-CPU sampler (oncpu.bpf.c) shares with its loader
 * (recorder.c). Samples are aggregated as in stackagg.h, one count each. */
#pragma once

#include "stackagg.h"

#define SG_ONCPU_HZ_MIN 49
#define SG_ONCPU_HZ_MAX 99
#define SG_ONCPU_HZ_DEFAULT 49

// SPDX-License-Identifier: GPL-2.0
/*
 * sg_spin: a real soft lockup for stallguard's VM tests. Loading it spins the
 * loading CPU with preemption disabled for spin_ms milliseconds, then returns
 * -EAGAIN so that it never stays loaded. With kernel.watchdog_thresh = T the
 * soft lockup detector reports the CPU stuck once spin_ms passes 2 * T s.
 */
#include <linux/module.h>
#include <linux/delay.h>
#include <linux/jiffies.h>
#include <linux/preempt.h>

static unsigned int spin_ms = 15000;
module_param(spin_ms, uint, 0444);
MODULE_PARM_DESC(spin_ms, "how long to spin with preemption disabled (ms)");

static int __init sg_spin_init(void)
{
	unsigned long until = jiffies + msecs_to_jiffies(spin_ms);

	pr_info("sg_spin: spinning for %u ms with preemption disabled\n", spin_ms);
	preempt_disable();
	while (time_before(jiffies, until))
		mdelay(1);
	preempt_enable();
	pr_info("sg_spin: done\n");
	return -EAGAIN;
}
module_init(sg_spin_init);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("stallguard test: spin with preemption disabled");

// SPDX-License-Identifier: GPL-2.0
/*
 * sg_dsleep: a real hung task for stallguard's VM tests. Loading it puts the
 * loading task (insmod) in uninterruptible sleep for sleep_ms milliseconds,
 * then returns -EAGAIN so that it never stays loaded. With a small
 * kernel.hung_task_timeout_secs the hung-task detector reports it.
 */
#include <linux/module.h>
#include <linux/sched.h>
#include <linux/jiffies.h>

static unsigned int sleep_ms = 20000;
module_param(sleep_ms, uint, 0444);
MODULE_PARM_DESC(sleep_ms, "how long to sleep uninterruptibly (ms)");

static int __init sg_dsleep_init(void)
{
	pr_info("sg_dsleep: sleeping uninterruptibly for %u ms\n", sleep_ms);
	schedule_timeout_uninterruptible(msecs_to_jiffies(sleep_ms));
	pr_info("sg_dsleep: done\n");
	return -EAGAIN;
}
module_init(sg_dsleep_init);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("stallguard test: sleep uninterruptibly");

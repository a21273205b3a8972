// SPDX-License-Identifier: GPL-2.0
/*
 * sg_mmhold: a thread stuck in the kernel holding its process's mmap_lock,
 * for stallguard's VM tests. A write of a decimal number of milliseconds to
 * /dev/sg_mmhold takes the writer's mmap_lock for reading and sleeps
 * uninterruptibly that long with it held. Meanwhile an mmap() by another
 * thread of the process waits for the lock (writer), and so does every later
 * reader (page faults, /proc/PID/cmdline): the freeze trap, made on demand.
 */
#include <linux/module.h>
#include <linux/miscdevice.h>
#include <linux/fs.h>
#include <linux/mm.h>
#include <linux/sched.h>
#include <linux/uaccess.h>
#include <linux/kernel.h>

static ssize_t sg_mmhold_write(struct file *file, const char __user *buf, size_t len, loff_t *pos)
{
	unsigned int hold_ms;
	int err = kstrtouint_from_user(buf, len, 10, &hold_ms);

	if (err)
		return err;
	if (!current->mm)
		return -EINVAL;
	pr_info("sg_mmhold: %s:%d holds its mmap_lock for %u ms\n", current->comm, current->pid, hold_ms);
	mmap_read_lock(current->mm);
	schedule_timeout_uninterruptible(msecs_to_jiffies(hold_ms));
	mmap_read_unlock(current->mm);
	return len;
}

static const struct file_operations sg_mmhold_fops = {
	.owner = THIS_MODULE,
	.write = sg_mmhold_write,
};

static struct miscdevice sg_mmhold_dev = {
	.minor = MISC_DYNAMIC_MINOR,
	.name = "sg_mmhold",
	.fops = &sg_mmhold_fops,
	.mode = 0600,
};

module_misc_device(sg_mmhold_dev);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("stallguard test: hold mmap_lock in uninterruptible sleep");

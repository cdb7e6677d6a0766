#include <linux/module.h>
#include <linux/printk.h>

static int debug;
module_param(debug, int, 0644);
MODULE_PARM_DESC(debug, "enable debug output");

static char *name = "world";
module_param(name, charp, 0444);

static int __init hello_init(void)
{
	pr_info("hello: loaded\n");
	return 0;
}

static void __exit hello_exit(void)
{
	pr_info("hello: unloaded\n");
}

module_init(hello_init);
module_exit(hello_exit);
MODULE_LICENSE("GPL");

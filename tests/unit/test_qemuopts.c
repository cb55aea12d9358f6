/* Unit tests for core/qemuopts: the option table and the argv check. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "qemuopts.h"

static void test_table_sorted(void **state)
{
	size_t n;
	const struct qemu_option *t = qemu_option_table(&n);
	assert_true(n > 100);
	for (size_t i = 1; i < n; i++)
		if (strcmp(t[i - 1].name, t[i].name) >= 0)
			fail_msg("table not sorted at %s / %s", t[i - 1].name, t[i].name);
	for (size_t i = 0; i < n; i++)
		assert_ptr_equal(qemu_option_lookup(t[i].name), &t[i]);
}

static void expect_opt(const char *name, bool has_arg)
{
	const struct qemu_option *o = qemu_option_lookup(name);
	if (!o)
		fail_msg("-%s missing from the table", name);
	assert_string_equal(o->name, name);
	if (o->has_arg != has_arg)
		fail_msg("-%s: has_arg %d, want %d", name, o->has_arg, has_arg);
}

static void test_lookup(void **state)
{
	static const char *const with_arg[] = {
	    "m",      "smp",   "cpu",    "machine", "M",      "device",  "netdev", "net",
	    "drive",  "hda",   "hdb",    "hdc",     "hdd",    "cdrom",   "kernel", "initrd",
	    "append", "dtb",   "bios",   "serial",  "monitor", "vga",    "display", "object",
	    "chardev", "global", "boot", "name",    "uuid",   "prom-env", "semihosting-config",
	    "g",      "accel", "fw_cfg", "smbios",  "pflash", "L",       "D",      "d",
	    "nic",    "audiodev", "qmp", "gdb",     "incoming", "k",     "rtc",    "icount",
	    "numa",   "blockdev", "virtfs", "fsdev", "tpmdev", "option-rom", "run-with"};
	static const char *const no_arg[] = {
	    "enable-kvm", "nographic",  "no-reboot", "no-shutdown", "snapshot",  "S",
	    "s",          "nodefaults", "daemonize", "old-param",   "semihosting", "no-acpi",
	    "no-hpet",    "usb",        "help",      "h",           "version",   "preconfig",
	    "full-screen", "mem-prealloc", "no-user-config", "one-insn-per-tb", "singlestep"};
	for (size_t i = 0; i < sizeof(with_arg) / sizeof(with_arg[0]); i++)
		expect_opt(with_arg[i], true);
	for (size_t i = 0; i < sizeof(no_arg) / sizeof(no_arg[0]); i++)
		expect_opt(no_arg[i], false);
	assert_null(qemu_option_lookup("foo"));
	assert_null(qemu_option_lookup("-m"));
	assert_null(qemu_option_lookup(""));
	assert_null(qemu_option_lookup(NULL));
	assert_null(qemu_option_lookup("redir")); /* retired in QEMU 3.1 */
	assert_null(qemu_option_lookup("Machine"));
}

static int check(const char *const *argv, size_t argc, const char *const *where,
		 struct strbuf *warn, struct lf_error *err)
{
	lf_error_clear(err);
	strbuf_reset(warn);
	return qemu_argv_check(argv, argc, where, warn, err);
}

#define N(a) (sizeof(a) / sizeof((a)[0]))

static void test_check_ok(void **state)
{
	struct strbuf warn = STRBUF_INIT;
	struct lf_error err;
	const char *const a1[] = {"qemu-system-x86_64", "-cpu", "host", "-enable-kvm",
				  "-nographic", "-net", "nic,model=virtio,macaddr=52:54:00:12:34:59",
				  "-net", "user", "-m", "1024", "-monitor", "none",
				  "--append", "console=ttyS0 root=/dev/sda rw", "-drive",
				  "format=qcow2,file=/x.qcow2,media=disk,if=virtio,id=lavatest,snapshot=on"};
	assert_int_equal(check(a1, N(a1), NULL, &warn, &err), 0);
	assert_int_equal(warn.len, 0);
	/* just the binary */
	assert_int_equal(check(a1, 1, NULL, &warn, &err), 0);
	/* arguments that look like options are still arguments */
	const char *const a2[] = {"qemu", "-append", "-m", "-name", "-device"};
	assert_int_equal(check(a2, N(a2), NULL, &warn, &err), 0);
	strbuf_release(&warn);
}

static void test_check_missing_arg(void **state)
{
	struct strbuf warn = STRBUF_INIT;
	struct lf_error err;
	const char *const a[] = {"qemu", "-nographic", "-m"};
	assert_int_equal(check(a, N(a), NULL, &warn, &err), -EINVAL);
	assert_string_equal(err.msg, "option -m needs an argument");
	const char *const where[] = {NULL, "qemu.jinja2:50", "qemu.jinja2:52"};
	assert_int_equal(check(a, N(a), where, &warn, &err), -EINVAL);
	assert_string_equal(err.msg, "option -m needs an argument (from qemu.jinja2:52)");
	const char *const b[] = {"qemu", "--kernel"};
	assert_int_equal(check(b, N(b), NULL, &warn, &err), -EINVAL);
	assert_string_equal(err.msg, "option --kernel needs an argument");
	strbuf_release(&warn);
}

static void test_check_stray_word(void **state)
{
	struct strbuf warn = STRBUF_INIT;
	struct lf_error err;
	const char *const a[] = {"qemu", "-m", "512", "device", "virtio-rng"};
	const char *const where[] = {NULL, NULL, NULL, "context extra_options[0]", NULL};
	assert_int_equal(check(a, N(a), NULL, &warn, &err), -EINVAL);
	assert_string_equal(err.msg,
			    "'device' where an option was expected: did you mean -device?");
	assert_int_equal(check(a, N(a), where, &warn, &err), -EINVAL);
	assert_string_equal(err.msg, "'device' where an option was expected: did you mean "
				     "-device? (from context extra_options[0])");
	/* -smp takes one argument: the second number is stray */
	const char *const b[] = {"qemu", "-smp", "2", "4"};
	assert_int_equal(check(b, N(b), NULL, &warn, &err), -EINVAL);
	assert_string_equal(err.msg, "'4' where an option was expected");
	const char *const c[] = {"qemu", "-"};
	assert_int_equal(check(c, N(c), NULL, &warn, &err), -EINVAL);
	assert_string_equal(err.msg, "'-' where an option was expected");
	const char *const d[] = {"qemu", ""};
	assert_int_equal(check(d, N(d), NULL, &warn, &err), -EINVAL);
	assert_string_equal(err.msg, "'' where an option was expected");
	const char *const e[] = {"qemu", "-enable-kvm", "xyz"};
	assert_int_equal(check(e, N(e), NULL, &warn, &err), -EINVAL);
	assert_string_equal(err.msg, "'xyz' where an option was expected");
	strbuf_release(&warn);
}

static void test_check_unknown(void **state)
{
	struct strbuf warn = STRBUF_INIT;
	struct lf_error err;
	const char *const a[] = {"qemu", "-foo", "-m", "1024", "--bar"};
	const char *const where[] = {NULL, "qemu.jinja2:7", NULL, NULL, NULL};
	assert_int_equal(check(a, N(a), where, &warn, &err), 0);
	assert_string_equal(strbuf_str(&warn),
			    "unknown QEMU option -foo (QEMU versions differ; passing it through) "
			    "(from qemu.jinja2:7)\n"
			    "unknown QEMU option --bar (QEMU versions differ; passing it through)\n");
	/* an unknown option's arity is unknown: a following non-option word is its argument */
	const char *const b[] = {"qemu", "-foo", "bar", "-m", "1"};
	assert_int_equal(check(b, N(b), NULL, &warn, &err), 0);
	/* retired options whose arity is known */
	const char *const c[] = {"qemu", "-redir", "tcp:2222::22", "-no-kvm", "-m", "1"};
	assert_int_equal(check(c, N(c), NULL, &warn, &err), 0);
	assert_non_null(strstr(strbuf_str(&warn), "unknown QEMU option -redir"));
	assert_non_null(strstr(strbuf_str(&warn), "unknown QEMU option -no-kvm"));
	const char *const d[] = {"qemu", "-no-kvm", "stray"};
	assert_int_equal(check(d, N(d), NULL, &warn, &err), -EINVAL);
	assert_string_equal(err.msg, "'stray' where an option was expected");
	/* no warnings buffer: still fine */
	lf_error_clear(&err);
	assert_int_equal(qemu_argv_check(a, N(a), NULL, NULL, &err), 0);
	strbuf_release(&warn);
}

/* The table against the installed qemu-system-x86_64 (which parses every target's options):
 * after "-OPT -zzz -yyy" QEMU complains about the first word it did not consume. Options
 * that this QEMU does not know (newer or older releases) are skipped. */
static void test_table_matches_qemu(void **state)
{
	const char *qemu = "/usr/bin/qemu-system-x86_64";
	if (access(qemu, X_OK) != 0)
		skip();
	size_t n, checked = 0;
	const struct qemu_option *t = qemu_option_table(&n);
	for (size_t i = 0; i < n; i++) {
		char cmd[256], line[512] = "";
		snprintf(cmd, sizeof(cmd), "%s -%s -zzz -yyy 2>&1 </dev/null", qemu, t[i].name);
		FILE *p = popen(cmd, "r");
		assert_non_null(p);
		if (!fgets(line, sizeof(line), p))
			line[0] = '\0';
		pclose(p);
		char unknown[64];
		snprintf(unknown, sizeof(unknown), " -%s: invalid option", t[i].name);
		if (strstr(line, unknown))
			continue;
		bool consumed = strstr(line, "-yyy: invalid option") != NULL;
		bool not_consumed = strstr(line, "-zzz: invalid option") != NULL;
		if (!consumed && !not_consumed)
			fail_msg("-%s: unexpected answer from qemu: %s", t[i].name, line);
		if (consumed != t[i].has_arg)
			fail_msg("-%s: table says has_arg=%d, qemu disagrees", t[i].name,
				 t[i].has_arg);
		checked++;
	}
	assert_true(checked > 100);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_table_sorted),      cmocka_unit_test(test_lookup),
	    cmocka_unit_test(test_check_ok),          cmocka_unit_test(test_check_missing_arg),
	    cmocka_unit_test(test_check_stray_word), cmocka_unit_test(test_check_unknown),
	    cmocka_unit_test(test_table_matches_qemu),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* qemuopts: which words of a QEMU argv are options and which are their arguments.
 *
 * The table is every option qemu-system-* accepts in QEMU 7.x and 8.x, for all targets (QEMU
 * parses the full table on every target and only rejects other targets' options later), with
 * whether it takes an argument. It was taken by probing qemu-system-x86_64 7.2 (an option
 * followed by two invalid words shows which of them QEMU consumed) plus the options that
 * appeared or disappeared between 7.0 and 8.2 (soundhw, watchdog, enable-fips, one-insn-per-tb,
 * run-with). Sorted bytewise (LC_ALL=C) for bsearch. */
#include "qemuopts.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct qemu_option options[] = {
	{"D", true},
	{"L", true},
	{"M", true},
	{"S", false},
	{"accel", true},
	{"acpitable", true},
	{"action", true},
	{"add-fd", true},
	{"append", true},
	{"async-teardown", false},
	{"audio", true},
	{"audio-help", false},
	{"audiodev", true},
	{"bios", true},
	{"blockdev", true},
	{"boot", true},
	{"cdrom", true},
	{"chardev", true},
	{"chroot", true},
	{"compat", true},
	{"cpu", true},
	{"d", true},
	{"daemonize", false},
	{"debugcon", true},
	{"device", true},
	{"dfilter", true},
	{"display", true},
	{"drive", true},
	{"dtb", true},
	{"dump-vmstate", true},
	{"echr", true},
	{"enable-fips", false},
	{"enable-kvm", false},
	{"enable-sync-profile", false},
	{"fda", true},
	{"fdb", true},
	{"fsdev", true},
	{"full-screen", false},
	{"fw_cfg", true},
	{"g", true},
	{"gdb", true},
	{"global", true},
	{"h", false},
	{"hda", true},
	{"hdb", true},
	{"hdc", true},
	{"hdd", true},
	{"help", false},
	{"icount", true},
	{"incoming", true},
	{"initrd", true},
	{"iscsi", true},
	{"k", true},
	{"kernel", true},
	{"loadvm", true},
	{"m", true},
	{"machine", true},
	{"mem-path", true},
	{"mem-prealloc", false},
	{"mon", true},
	{"monitor", true},
	{"msg", true},
	{"mtdblock", true},
	{"name", true},
	{"net", true},
	{"netdev", true},
	{"nic", true},
	{"no-acpi", false},
	{"no-fd-bootchk", false},
	{"no-hpet", false},
	{"no-reboot", false},
	{"no-shutdown", false},
	{"no-user-config", false},
	{"nodefaults", false},
	{"nographic", false},
	{"numa", true},
	{"object", true},
	{"old-param", false},
	{"one-insn-per-tb", false},
	{"only-migratable", false},
	{"option-rom", true},
	{"overcommit", true},
	{"parallel", true},
	{"pflash", true},
	{"pidfile", true},
	{"plugin", true},
	{"portrait", false},
	{"preconfig", false},
	{"prom-env", true},
	{"qmp", true},
	{"qmp-pretty", true},
	{"qtest", true},
	{"qtest-log", true},
	{"readconfig", true},
	{"rotate", true},
	{"rtc", true},
	{"run-with", true},
	{"runas", true},
	{"s", false},
	{"sandbox", true},
	{"sd", true},
	{"seed", true},
	{"semihosting", false},
	{"semihosting-config", true},
	{"serial", true},
	{"set", true},
	{"singlestep", false},
	{"smbios", true},
	{"smp", true},
	{"snapshot", false},
	{"soundhw", true},
	{"spice", true},
	{"tpmdev", true},
	{"trace", true},
	{"usb", false},
	{"usbdevice", true},
	{"uuid", true},
	{"version", false},
	{"vga", true},
	{"virtfs", true},
	{"vnc", true},
	{"watchdog", true},
	{"watchdog-action", true},
	{"win2k-hack", false},
	{"xen-attach", false},
	{"xen-domid", true},
	{"xen-domid-restrict", false},
};

/* Options of older QEMU releases that LAVA-era templates may still carry: not valid any
 * more (so they get the "unknown" warning), but knowing their arity keeps the check of the
 * words after them honest. */
static const struct qemu_option legacy_options[] = {
	{"alt-grab", false},
	{"balloon", true},
	{"bootp", true},
	{"clock", true},
	{"ctrl-grab", false},
	{"curses", false},
	{"enable-nesting", false},
	{"localtime", false},
	{"no-frame", false},
	{"no-kvm", false},
	{"no-kvm-irqchip", false},
	{"no-kvm-pit", false},
	{"no-kvm-pit-reinjection", false},
	{"no-quit", false},
	{"nodefconfig", false},
	{"pcidevice", true},
	{"realtime", true},
	{"redir", true},
	{"sdl", false},
	{"show-cursor", false},
	{"smb", true},
	{"startdate", true},
	{"tb-size", true},
	{"tdf", false},
	{"tftp", true},
	{"virtioconsole", true},
	{"writeconfig", true},
	{"xen-create", false},
};

static int option_cmp(const void *key, const void *elem)
{
	return strcmp(key, ((const struct qemu_option *)elem)->name);
}

static const struct qemu_option *table_find(const struct qemu_option *t, size_t n,
					    const char *name)
{
	return bsearch(name, t, n, sizeof(*t), option_cmp);
}

const struct qemu_option *qemu_option_lookup(const char *name)
{
	if (!name)
		return NULL;
	return table_find(options, sizeof(options) / sizeof(options[0]), name);
}

/* QEMU itself accepts "-opt" and "--opt", nothing else. */
static const char *option_name(const char *word)
{
	if (word[0] != '-' || word[1] == '\0')
		return NULL;
	const char *name = word + 1;
	if (name[0] == '-')
		name++;
	return name;
}

static const char *origin(const char *const *where, size_t i, char *buf, size_t size)
{
	if (!where || !where[i] || !where[i][0])
		return "";
	snprintf(buf, size, " (from %s)", where[i]);
	return buf;
}

int qemu_argv_check(const char *const *argv, size_t argc, const char *const *where,
		    struct strbuf *warnings, struct lf_error *err)
{
	char from[512];
	for (size_t i = 1; i < argc; i++) {
		const char *word = argv[i];
		const char *name = option_name(word);
		if (!name || !name[0]) {
			if (qemu_option_lookup(word))
				return lf_error_set(err, -EINVAL, NULL, 0, 0,
						    "'%s' where an option was expected: did you "
						    "mean -%s?%s",
						    word, word, origin(where, i, from, sizeof(from)));
			return lf_error_set(err, -EINVAL, NULL, 0, 0,
					    "'%s' where an option was expected%s", word,
					    origin(where, i, from, sizeof(from)));
		}
		const struct qemu_option *opt = qemu_option_lookup(name);
		if (!opt) {
			if (warnings)
				strbuf_addf(warnings,
					    "unknown QEMU option %s (QEMU versions differ; passing it "
					    "through)%s\n",
					    word, origin(where, i, from, sizeof(from)));
			/* Its arity is unknown unless it is a retired option: a following word
			 * that is no option is taken as its argument rather than blamed. */
			const struct qemu_option *old = table_find(
			    legacy_options, sizeof(legacy_options) / sizeof(legacy_options[0]),
			    name);
			if (old ? old->has_arg && i + 1 < argc
				: i + 1 < argc && !option_name(argv[i + 1]))
				i++;
			continue;
		}
		if (opt->has_arg) {
			if (i + 1 == argc)
				return lf_error_set(err, -EINVAL, NULL, 0, 0,
						    "option %s needs an argument%s", word,
						    origin(where, i, from, sizeof(from)));
			i++;
		}
	}
	return 0;
}

const struct qemu_option *qemu_option_table(size_t *n)
{
	*n = sizeof(options) / sizeof(options[0]);
	return options;
}

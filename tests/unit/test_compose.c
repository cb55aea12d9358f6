/* Unit tests for core/compose: the three layers, explain, warnings and every error path,
 * against a small device-type template written to a temp dir (the shipped templates are
 * covered by tests/cases). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "compose.h"

static char tdir[] = "/tmp/lavafs-compose-XXXXXX";

static const char *type_tpl =
	"{% set memory = memory|default(512) %}\n"
	"device_type: mini\n"
	"available_architectures:\n"
	"- amd64\n"
	"- arm64\n"
	"actions:\n"
	"  deploy:\n"
	"    methods:\n"
	"      image:\n"
	"        parameters:\n"
	"          guest:\n"
	"            size: {{ guestfs_size|default(512) }}\n"
	"            interface: {{ guestfs_interface|default('ide') }}\n"
	"            driveid: {{ guestfs_driveid|default('lavatest') }}\n"
	"  boot:\n"
	"    methods:\n"
	"      qemu:\n"
	"        parameters:\n"
	"          command:\n"
	"            qemu-system-{{ 'x86_64' if arch == 'amd64' else 'aarch64' }}\n"
	"          options:\n"
	"{% if kvm %}\n"
	"            - -enable-kvm\n"
	"{% endif %}\n"
	"            - -m {{ memory }}\n"
	"            - -net nic,model=virtio,macaddr={{ mac_addr|default('52:54:00:12:34:58') }}\n"
	"{% if cpu %}\n"
	"            - -cpu {{ cpu }}\n"
	"{% endif %}\n"
	"          extra: {{ extra_options|default([]) }}\n";

static void write_file(const char *dir, const char *name, const char *text)
{
	char p[512];
	snprintf(p, sizeof(p), "%s/%s", dir, name);
	FILE *f = fopen(p, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static int setup(void **state)
{
	if (!mkdtemp(tdir))
		return -1;
	write_file(tdir, "mini.jinja2", type_tpl);
	return 0;
}

static int teardown(void **state)
{
	char p[512];
	snprintf(p, sizeof(p), "%s/mini.jinja2", tdir);
	unlink(p);
	rmdir(tdir);
	return 0;
}

struct run {
	struct compose_result r;
	struct lf_error err;
	int rc;
};

static void compose(struct run *run, const char *dict, const char *ctx, const char *job,
		    const char *env, bool kvm)
{
	const char *dirs[] = {tdir};
	struct jinja_env *tenv = jinja_env_new(dirs, 1, NULL);
	char *base[] = {"PATH=/usr/bin:/bin", "HOME=/root", "LANG=C.UTF-8", NULL};
	struct compose_input in = {
		.templates = tenv,
		.device = "qemu01",
		.dictionary_name = "devices/qemu01/dictionary",
		.dictionary = dict,
		.dictionary_len = strlen(dict),
		.context_name = "devices/qemu01/context",
		.context = ctx,
		.context_len = ctx ? strlen(ctx) : 0,
		.job_name = "devices/qemu01/job.yaml",
		.job = job,
		.job_len = job ? strlen(job) : 0,
		.env_name = "env.yaml",
		.env_yaml = env,
		.env_yaml_len = env ? strlen(env) : 0,
		.environ = base,
		.tags = "kvm\nfast\n",
		.host_arch = "x86_64",
		.kvm = kvm,
		.guest_image = "/store/devices/qemu01/lava-guest.qcow2",
	};
	lf_error_clear(&run->err);
	run->rc = compose_run(&in, &run->r, &run->err);
	jinja_env_free(tenv);
}

/* argv with NULs turned into '|' for easy comparison */
static char *flat(const struct strbuf *sb)
{
	char *s = malloc(sb->len + 1);
	memcpy(s, sb->buf, sb->len);
	s[sb->len] = '\0';
	for (size_t i = 0; i < sb->len; i++)
		if (s[i] == '\0')
			s[i] = '|';
	return s;
}

static void test_three_layers(void **state)
{
	struct run run;
	compose(&run, "{% extends 'mini.jinja2' %}\n{% set memory = 1024 %}\n",
		"arch: amd64\nmemory: 8192\ncpu: Haswell\nextra_options:\n- -smp 2\n- '-append \"console=ttyS0 root=/dev/vda\"'\n",
		NULL, NULL, false);
	if (run.rc < 0)
		fail_msg("%s:%d: %s", run.err.file, run.err.line, run.err.msg);
	char *a = flat(&run.r.argv);
	assert_string_equal(a, "qemu-system-x86_64|-m|1024|-net|"
			       "nic,model=virtio,macaddr=52:54:00:12:34:58|-cpu|Haswell|-smp|2|"
			       "-append|console=ttyS0 root=/dev/vda|");
	free(a);
	/* the dictionary wins, and says so */
	assert_non_null(strstr(strbuf_str(&run.r.warnings),
			       "context sets memory=8192; the device dictionary fixes memory=1024"));
	const char *ex = strbuf_str(&run.r.explain);
	assert_non_null(strstr(ex, "2\tmandatory\t1024\t"));
	assert_non_null(strstr(ex, "dictionary memory=1024"));
	assert_non_null(strstr(ex, "6\tspecific\tHaswell\tmini.jinja2:"));
	assert_non_null(strstr(ex, "context cpu=Haswell"));
	assert_non_null(strstr(ex, "10\tspecific\t'console=ttyS0 root=/dev/vda'"));
	assert_string_equal(strbuf_str(&run.r.cmdline),
			    "qemu-system-x86_64 -m 1024 -net nic,model=virtio,macaddr=52:54:00:12:34:58"
			    " -cpu Haswell -smp 2 -append 'console=ttyS0 root=/dev/vda'\n");
	assert_int_equal(run.r.nmacs, 1);
	assert_string_equal(run.r.macs[0], "52:54:00:12:34:58");
	assert_string_equal(run.r.device_type, "mini");
	assert_false(run.r.needs_guest);
	compose_result_free(&run.r);
}

static void test_kvm_warning(void **state)
{
	struct run run;
	/* kvm is false on this worker: the template has no -enable-kvm → no warning */
	compose(&run, "{% extends 'mini.jinja2' %}\n", "arch: amd64\nextra_options: ['-enable-kvm']\n",
		NULL, NULL, false);
	assert_int_equal(run.rc, 0);
	assert_non_null(strstr(strbuf_str(&run.r.warnings), "cannot run KVM guests"));
	compose_result_free(&run.r);
	compose(&run, "{% extends 'mini.jinja2' %}\n", "arch: amd64\n", NULL, NULL, true);
	assert_int_equal(run.rc, 0);
	char *a = flat(&run.r.argv);
	assert_non_null(strstr(a, "|-enable-kvm|"));
	free(a);
	assert_null(strstr(strbuf_str(&run.r.warnings), "KVM"));
	compose_result_free(&run.r);
}

static void test_job_images_and_guest(void **state)
{
	struct run run;
	const char *job = "job_name: t\n"
			  "tags: [kvm]\n"
			  "context:\n  arch: arm64\n"
			  "actions:\n"
			  "- deploy:\n"
			  "    to: tmpfs\n"
			  "    images:\n"
			  "      kernel:\n"
			  "        url: http://h/Image\n"
			  "        image_arg: -kernel {kernel} -append \"root=/dev/vda\"\n"
			  "      rootfs:\n"
			  "        url: http://h/rootfs.ext4.gz\n"
			  "        compression: gz\n"
			  "        image_arg: -drive format=raw,file={rootfs}\n"
			  "- boot:\n    method: qemu\n"
			  "- test:\n    definitions: []\n";
	compose(&run, "{% extends 'mini.jinja2' %}\n", NULL, job, NULL, false);
	if (run.rc < 0)
		fail_msg("%s:%d: %s", run.err.file, run.err.line, run.err.msg);
	assert_int_equal(run.r.nimages, 2);
	assert_string_equal(run.r.images[1].compression, "gz");
	assert_true(run.r.needs_guest);
	char *a = flat(&run.r.argv);
	/* no image_path callback: {label}s stay as written */
	assert_non_null(strstr(a, "|-kernel|{kernel}|-append|root=/dev/vda|-drive|format=raw,file={rootfs}|"));
	assert_non_null(strstr(a, "|-drive|format=qcow2,file=/store/devices/qemu01/lava-guest.qcow2,"
				  "media=disk,if=ide,id=lavatest,snapshot=on|"));
	free(a);
	const char *ex = strbuf_str(&run.r.explain);
	assert_non_null(strstr(ex, "\tsubstituted\t-kernel\t"));
	assert_non_null(strstr(ex, "\tstorage\t"));
	compose_result_free(&run.r);
}

static void expect_error(const char *dict, const char *ctx, const char *job, const char *env,
			 const char *needle)
{
	struct run run;
	compose(&run, dict, ctx, job, env, false);
	if (run.rc == 0)
		fail_msg("composed, expected an error containing '%s'", needle);
	if (!strstr(run.err.msg, needle) && !strstr(run.err.file, needle))
		fail_msg("error '%s' (%s:%d) lacks '%s'", run.err.msg, run.err.file, run.err.line,
			 needle);
	assert_null(run.r.argv.buf);
	compose_result_free(&run.r);
}

static void test_errors(void **state)
{
	const char *d = "{% extends 'mini.jinja2' %}\n";
	expect_error(d, "memory: 1\n", NULL, NULL, "sets no arch");
	expect_error(d, "arch: mips\n", NULL, NULL, "available_architectures: amd64, arm64");
	expect_error(d, "- arch\n", NULL, NULL, "must be a YAML mapping");
	expect_error(d, "arch: amd64\nextra_options: -smp 2\n", NULL, NULL, "must be a list");
	expect_error(d, "arch: amd64\nextra_options: [[1, 2]]\n", NULL, NULL, "is a list");
	expect_error(d, "arch: amd64\nextra_options: ['-append \"console=ttyS0']\n", NULL, NULL,
		     "extra_options item 1");
	expect_error(d, "arch: amd64\nextra_options: ['device', 'virtio-rng']\n", NULL, NULL,
		     "did you mean -device?");
	expect_error(d, "arch: amd64\nextra_options: ['-smp']\n", NULL, NULL, "-smp");
	expect_error(d, "arch: [amd64\n", NULL, NULL, "devices/qemu01/context");
	expect_error("{% extends 'mini.jinja2' %}\n{% set x = %}\n", "arch: amd64\n", NULL, NULL,
		     "devices/qemu01/dictionary");
	expect_error("{% extends 'nonexistent.jinja2' %}\n", "arch: amd64\n", NULL, NULL,
		     "nonexistent.jinja2");
	expect_error(d, NULL, "tags: [kvm-arm]\ncontext: {arch: amd64}\n", NULL,
		     "job needs tag kvm-arm; device qemu01 has kvm, fast");
	expect_error(d, "arch: amd64\n", NULL, "overrides: [1]\n", "overrides");
	/* rendered YAML that does not parse names the template line */
	expect_error("{% extends 'mini.jinja2' %}\n", "arch: amd64\ncpu: 'a: b: c'\n", NULL, NULL,
		     "not valid YAML");
	expect_error("device_type: x\n", "arch: amd64\n", NULL, NULL,
		     "actions.boot.methods.qemu.parameters");
}

static void test_env(void **state)
{
	struct run run;
	compose(&run, "{% extends 'mini.jinja2' %}\n", "arch: amd64\nPATH: /evil\nLD_PRELOAD: x.so\n",
		NULL, "overrides:\n  QEMU_AUDIO_DRV: none\nremoves: [HOME]\n", false);
	if (run.rc < 0)
		fail_msg("%s", run.err.msg);
	char *e = flat(&run.r.env);
	assert_string_equal(e, "LANG=C.UTF-8|PATH=/usr/bin:/bin|QEMU_AUDIO_DRV=none|");
	free(e);
	compose_result_free(&run.r);
}

static void test_host_facts_not_overridable(void **state)
{
	struct run run;
	compose(&run, "{% extends 'mini.jinja2' %}\n", "arch: amd64\nkvm: true\n", NULL, NULL, false);
	assert_int_equal(run.rc, 0);
	char *a = flat(&run.r.argv);
	assert_null(strstr(a, "-enable-kvm"));
	free(a);
	assert_non_null(strstr(strbuf_str(&run.r.warnings), "context sets kvm=True"));
	compose_result_free(&run.r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_three_layers),
		cmocka_unit_test(test_kvm_warning),
		cmocka_unit_test(test_job_images_and_guest),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_env),
		cmocka_unit_test(test_host_facts_not_overridable),
	};
	return cmocka_run_group_tests_name("compose", tests, setup, teardown);
}

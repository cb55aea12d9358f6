/* lavafs: one binary, four faces.
 *
 *   $ lavafs render -t device-types devices/qemu01.jinja2 -c context.yaml
 *   $ lavafs compose devices/qemu01.jinja2 -c context.yaml
 *   /usr/bin/qemu-system-x86_64 -cpu host -enable-kvm -nographic ...
 *   $ lavafs /var/lib/lavafs /srv/lavafs          # mount the tree
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"

static void usage(FILE *f)
{
	fputs("usage: lavafs [FUSE options] STORE MOUNTPOINT\n"
	      "       lavafs render [-t DIR]... FILE [-c CONTEXT.yaml]\n"
	      "       lavafs compose [-t DIR]... DICTIONARY [-c CONTEXT.yaml | -j JOB.yaml]\n"
	      "                      [-e ENV.yaml] [-o OUTDIR]\n"
	      "       lavafs run DEVICEDIR\n"
	      "       lavafs --help | --version\n"
	      "See lavafs(8) for the commands and lavafs(5) for the mounted tree.\n",
	      f);
}

int main(int argc, char **argv)
{
	if (argc >= 2) {
		const char *cmd = argv[1];
		if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0) {
			usage(stdout);
			return 0;
		}
		if (strcmp(cmd, "--version") == 0 || strcmp(cmd, "-V") == 0) {
			printf("lavafs %s\n", LAVAFS_VERSION);
			return 0;
		}
		if (strcmp(cmd, "render") == 0)
			return cli_render(argc - 1, argv + 1);
		if (strcmp(cmd, "compose") == 0)
			return cli_compose(argc - 1, argv + 1);
		if (strcmp(cmd, "run") == 0)
			return cli_run(argc - 1, argv + 1);
		if (strcmp(cmd, "debug") == 0)
			return cli_debug(argc - 1, argv + 1);
	}
	if (argc < 3) {
		usage(stderr);
		return 2;
	}
	return fs_main(argc, argv);
}

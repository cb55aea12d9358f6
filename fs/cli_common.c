/* Shared by the subcommands: where the shipped templates are. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

#ifndef LAVAFS_DATADIR
#define LAVAFS_DATADIR "/usr/local/share/lavafs"
#endif

static int is_dir_with(const char *dir, const char *file)
{
	char p[PATH_MAX];
	if ((size_t)snprintf(p, sizeof(p), "%s/%s", dir, file) >= sizeof(p))
		return 0;
	return access(p, R_OK) == 0;
}

const char *cli_shipped_templates(void)
{
	static char found[PATH_MAX];
	const char *envdir = getenv("LAVAFS_TEMPLATES");
	if (envdir && *envdir)
		return envdir;
	/* build/lavafs or build/asan/lavafs inside a source tree: look upwards for templates/ */
	char exe[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n > 0) {
		exe[n] = '\0';
		for (int up = 0; up < 4; up++) {
			char *slash = strrchr(exe, '/');
			if (!slash)
				break;
			*slash = '\0';
			snprintf(found, sizeof(found), "%s/templates", exe);
			if (is_dir_with(found, "qemu.jinja2"))
				return found;
		}
	}
	snprintf(found, sizeof(found), "%s/templates", LAVAFS_DATADIR);
	return found;
}

/* cli_util: small file helpers shared by the subcommands (not by the mount). */
#ifndef LAVAFS_CLI_UTIL_H
#define LAVAFS_CLI_UTIL_H

#include <stdbool.h>
#include <stddef.h>

struct cli_file {
	char *data; /* NUL-terminated */
	size_t len;
};

/* Read a whole file (at most 64 MiB); prints "lavafs: PATH: reason" and returns -1 on error. */
int cli_read_file(const char *path, struct cli_file *f);
void cli_free_file(struct cli_file *f);
/* Write DIR/NAME atomically (temp file, fsync, rename). Prints and returns -1 on error. */
int cli_write_in(const char *dir, const char *name, const void *data, size_t len);
void cli_remove_in(const char *dir, const char *name);
/* host_arch()/host_kvm_usable(), overridable with LAVAFS_HOST_ARCH and LAVAFS_KVM=0|1 (tests,
 * and composing for another worker). */
const char *cli_host_arch(void);
bool cli_host_kvm(void);

#endif

/* qemuopts: QEMU's command-line grammar, as a table of qemu-system options and whether each
 * takes an argument, used to catch argv mistakes before QEMU does. */
#ifndef LAVAFS_QEMUOPTS_H
#define LAVAFS_QEMUOPTS_H

#include <stdbool.h>
#include <stddef.h>

#include "error.h"
#include "strbuf.h"

/* Option name without leading dashes ("m", "device"); NULL when QEMU has no such option. */
struct qemu_option {
	const char *name;
	bool has_arg;
};
const struct qemu_option *qemu_option_lookup(const char *name);
/* The whole table, sorted by name (for tests and `--help`-style listings). */
const struct qemu_option *qemu_option_table(size_t *n);

/* Check argv[1..argc-1] (argv[0] is the binary). A word where an option is expected is an
 * error ("did you mean -device?"), as is an option missing its argument at the end; an
 * unknown option is a warning line appended to `warnings`. `where[i]`, when non-NULL, names
 * the origin of argv[i] for messages. */
int qemu_argv_check(const char *const *argv, size_t argc, const char *const *where,
		    struct strbuf *warnings, struct lf_error *err);

#endif

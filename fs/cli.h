/* cli: the subcommands of the one lavafs binary. Each returns the process exit status:
 * 0 ok, 1 composition error, 2 usage error. */
#ifndef LAVAFS_CLI_H
#define LAVAFS_CLI_H

int cli_render(int argc, char **argv);  /* lavafs render [-t DIR]... FILE [-c CONTEXT] */
int cli_compose(int argc, char **argv); /* lavafs compose ... */
int cli_run(int argc, char **argv);     /* lavafs run DEVICEDIR */
int fs_main(int argc, char **argv);     /* lavafs [FUSE options] STORE MOUNTPOINT */
/* lavafs debug yaml FILE: prints Python's repr() of the parsed document (for tests). */
int cli_debug(int argc, char **argv);

/* The shipped templates directory: $LAVAFS_TEMPLATES, else the installed share dir, else
 * templates/ next to the source tree the binary was built from. */
const char *cli_shipped_templates(void);

#endif

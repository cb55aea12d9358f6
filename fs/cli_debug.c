/* lavafs debug: look at what the core readers make of a file, the way Python would show it.
 *
 *   $ printf 'memory: 1024\nmac: 52:54:00:12:34:56\nkvm: yes\n' > ctx.yaml
 *   $ lavafs debug yaml ctx.yaml
 *   {'memory': 1024, 'mac': '52:54:00:12:34:56', 'kvm': True}
 *   $ lavafs debug yaml-emit ctx.yaml
 *   memory: 1024
 *   mac: '52:54:00:12:34:56'
 *   kvm: true
 *
 * `debug yaml` prints repr(yaml.safe_load(open(FILE))) as Python prints it, which is what the
 * differential tests compare; errors go to stderr as "lavafs: FILE:LINE:COL: message". */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "yaml.h"

static void debug_usage(void)
{
	fputs("usage: lavafs debug yaml FILE\n"
	      "       lavafs debug yaml-emit FILE\n",
	      stderr);
}

/* The whole file (NUL bytes included) in a malloc'd buffer. */
static char *read_all(const char *path, size_t *len)
{
	FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
	if (!f)
		return NULL;
	size_t cap = 8192, n = 0;
	char *buf = malloc(cap);
	while (buf) {
		size_t got = fread(buf + n, 1, cap - n - 1, f);
		n += got;
		if (got == 0)
			break;
		if (cap - n - 1 == 0) {
			char *grown = realloc(buf, cap * 2);
			if (!grown) {
				free(buf);
				buf = NULL;
				break;
			}
			buf = grown;
			cap *= 2;
		}
	}
	int failed = ferror(f);
	if (f != stdin)
		fclose(f);
	if (!buf || failed) {
		free(buf);
		errno = failed ? EIO : ENOMEM;
		return NULL;
	}
	buf[n] = '\0';
	*len = n;
	return buf;
}

static int debug_yaml(const char *path, int emit)
{
	size_t len;
	char *text = read_all(path, &len);
	if (!text) {
		fprintf(stderr, "lavafs: %s: %s\n", path, strerror(errno));
		return 1;
	}
	struct arena *a = arena_new();
	struct lf_error err;
	struct value *v;
	lf_error_clear(&err);
	int rc = yaml_parse(a, path, text, len, NULL, &v, &err);
	if (rc) {
		char msg[LF_ERR_MSG + 300];
		lf_error_format(&err, msg, sizeof(msg));
		fprintf(stderr, "lavafs: %s\n", msg);
	} else {
		struct strbuf sb = STRBUF_INIT;
		if (emit) {
			yaml_emit(&sb, v);
		} else {
			value_repr(&sb, v);
			strbuf_addc(&sb, '\n');
		}
		fwrite(sb.buf ? sb.buf : "", 1, sb.len, stdout);
		strbuf_release(&sb);
	}
	arena_free(a);
	free(text);
	if (fflush(stdout) != 0)
		return 1;
	return rc ? 1 : 0;
}

int cli_debug(int argc, char **argv)
{
	if (argc == 3 && strcmp(argv[1], "yaml") == 0)
		return debug_yaml(argv[2], 0);
	if (argc == 3 && strcmp(argv[1], "yaml-emit") == 0)
		return debug_yaml(argv[2], 1);
	debug_usage();
	return 2;
}

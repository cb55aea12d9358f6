/* placeholder: `lavafs debug yaml FILE` lands with core/yaml */
#include <stdio.h>

#include "cli.h"

int cli_debug(int argc, char **argv)
{
	fputs("lavafs: 'debug' is not built yet\n", stderr);
	return 2;
}

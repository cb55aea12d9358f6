/* placeholder until the compose command lands */
#include <stdio.h>

#include "cli.h"

int cli_compose(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	fputs("lavafs: 'compose' is not built yet\n", stderr);
	return 2;
}

/* placeholder until the render command lands */
#include <stdio.h>

#include "cli.h"

int cli_render(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	fputs("lavafs: 'render' is not built yet\n", stderr);
	return 2;
}

/* placeholder until the run command lands */
#include <stdio.h>

#include "cli.h"

int cli_run(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	fputs("lavafs: 'run' is not built yet\n", stderr);
	return 2;
}

/* placeholder until the mounted tree lands */
#include <stdio.h>

#include "cli.h"

int fs_main(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	fputs("lavafs: mounting is not built yet\n", stderr);
	return 2;
}

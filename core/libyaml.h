/* libyaml: the system's libyaml header. core/yaml.h shadows <yaml.h> on the -Icore search
 * path, so this file (found through that same path) continues the search past core/. */
#ifndef LAVAFS_LIBYAML_H
#define LAVAFS_LIBYAML_H
#include_next <yaml.h>
#endif

/* host: facts about this worker that templates see as `host_arch` and `kvm`. */
#ifndef LAVAFS_HOST_H
#define LAVAFS_HOST_H

#include <stdbool.h>

/* `uname -m` ("x86_64", "aarch64"). */
const char *host_arch(void);
/* True only when /dev/kvm opens and can create a VM with a vCPU that runs; a present but
 * broken KVM (nested KVM failing) is false. The answer is probed once and cached. */
bool host_kvm_usable(void);

#endif

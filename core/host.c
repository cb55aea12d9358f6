/* host: what templates see as `host_arch` and `kvm`.
 *
 * /dev/kvm existing is not enough: under nested virtualisation it can open, create a VM and
 * then fail when QEMU sets up the vCPU ("failed to set MSR 0x10a"). So the probe does what QEMU
 * does first — create a VM and a vCPU, program the MSR QEMU trips over, and run one HLT
 * instruction — and only a guest that really halted counts as usable KVM. */
#include "host.h"

#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/utsname.h>
#include <unistd.h>

#if defined(__linux__)
#include <linux/kvm.h>
#endif

static pthread_once_t arch_once = PTHREAD_ONCE_INIT;
static char arch_name[65];

static void arch_probe(void)
{
	struct utsname u;
	if (uname(&u) == 0)
		memcpy(arch_name, u.machine, sizeof(arch_name) - 1);
	else
		strcpy(arch_name, "unknown");
}

const char *host_arch(void)
{
	pthread_once(&arch_once, arch_probe);
	return arch_name;
}

#if defined(__linux__) && (defined(__x86_64__) || defined(__i386__))
/* x86: real-mode guest whose first instruction is HLT. */
static bool kvm_run_hlt(int kvm, int vm)
{
	bool ok = false;
	size_t memsz = 0x1000;
	void *mem = mmap(NULL, memsz, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (mem == MAP_FAILED)
		return false;
	((uint8_t *)mem)[0] = 0xf4; /* hlt */
	struct kvm_userspace_memory_region region = {
		.slot = 0, .guest_phys_addr = 0, .memory_size = memsz,
		.userspace_addr = (uint64_t)(uintptr_t)mem,
	};
	int vcpu = -1;
	struct kvm_run *run = MAP_FAILED;
	int mmap_size = 0;
	if (ioctl(vm, KVM_SET_USER_MEMORY_REGION, &region) < 0)
		goto out;
	vcpu = ioctl(vm, KVM_CREATE_VCPU, 0);
	if (vcpu < 0)
		goto out;
	/* The MSR nested KVM refuses (IA32_ARCH_CAPABILITIES); QEMU aborts on it. */
	struct {
		struct kvm_msrs hdr;
		struct kvm_msr_entry e[1];
	} msrs;
	memset(&msrs, 0, sizeof(msrs));
	msrs.hdr.nmsrs = 1;
	msrs.e[0].index = 0x10a;
	/* QEMU programs the value KVM advertises as a feature MSR on the system fd. */
	if (ioctl(kvm, KVM_GET_MSRS, &msrs) == 1 && ioctl(vcpu, KVM_SET_MSRS, &msrs) != 1)
		goto out;
	struct kvm_sregs sregs;
	if (ioctl(vcpu, KVM_GET_SREGS, &sregs) < 0)
		goto out;
	sregs.cs.base = 0;
	sregs.cs.selector = 0;
	if (ioctl(vcpu, KVM_SET_SREGS, &sregs) < 0)
		goto out;
	struct kvm_regs regs;
	memset(&regs, 0, sizeof(regs));
	regs.rip = 0;
	regs.rflags = 2;
	if (ioctl(vcpu, KVM_SET_REGS, &regs) < 0)
		goto out;
	mmap_size = ioctl(kvm, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (mmap_size <= 0)
		goto out;
	run = mmap(NULL, (size_t)mmap_size, PROT_READ | PROT_WRITE, MAP_SHARED, vcpu, 0);
	if (run == MAP_FAILED)
		goto out;
	for (int i = 0; i < 4; i++) {
		if (ioctl(vcpu, KVM_RUN, 0) < 0)
			break;
		if (run->exit_reason == KVM_EXIT_HLT) {
			ok = true;
			break;
		}
		if (run->exit_reason != KVM_EXIT_INTR)
			break;
	}
out:
	if (run != MAP_FAILED)
		munmap(run, (size_t)mmap_size);
	if (vcpu >= 0)
		close(vcpu);
	munmap(mem, memsz);
	return ok;
}
#else
/* Elsewhere: a VM with a vCPU is the best cheap evidence. */
static bool kvm_run_hlt(int kvm, int vm)
{
	(void)kvm;
	int vcpu = ioctl(vm, KVM_CREATE_VCPU, 0);
	if (vcpu < 0)
		return false;
	close(vcpu);
	return true;
}
#endif

static pthread_once_t kvm_once = PTHREAD_ONCE_INIT;
static bool kvm_usable;

static void kvm_probe(void)
{
#if defined(__linux__)
	int kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (kvm < 0)
		return;
	if (ioctl(kvm, KVM_GET_API_VERSION, 0) == KVM_API_VERSION) {
		int vm = ioctl(kvm, KVM_CREATE_VM, 0);
		if (vm >= 0) {
			kvm_usable = kvm_run_hlt(kvm, vm);
			close(vm);
		}
	}
	close(kvm);
#endif
}

bool host_kvm_usable(void)
{
	pthread_once(&kvm_once, kvm_probe);
	return kvm_usable;
}

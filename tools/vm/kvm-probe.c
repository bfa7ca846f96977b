// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * kvm-probe: check that KVM can actually run a guest on this host.
 *
 * Opening /dev/kvm is not enough: on some hosts (nested setups, sandboxes)
 * the device exists but VM creation or KVM_RUN fails.  This program creates
 * a VM with one vCPU in real mode, maps one page holding a single `hlt`
 * instruction at guest-physical 0x1000, points CS:IP at it and runs it.
 * That first step succeeds only if KVM_RUN returns with KVM_EXIT_HLT.
 *
 * Some hosts pass that step and still cannot run real guests: their
 * /dev/kvm executes guest code by emulating it instruction by instruction,
 * a thousand times slower than hardware virtualization and slower than
 * QEMU's TCG.  So a second step runs a counted loop (dec ecx; jnz) before
 * the hlt and requires a minimum speed, measured in the vCPU thread's CPU
 * time so that host load does not make a good KVM look slow.
 *
 * Exit status 0 only if both steps pass.  Output: one line,
 * "kvm-probe: OK: ..." or "kvm-probe: FAIL: <step>: <why>".
 * The whole probe is bounded by alarm(); a stuck KVM_RUN is a failure.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define PROBE_TIMEOUT_S 5
#define GUEST_CODE_GPA 0x1000
#define GUEST_PAGE_SIZE 0x1000
#define HLT_OPCODE 0xf4

/*
 * Speed step: LOOP_ITERATIONS of "dec ecx; jnz" must run at
 * MIN_ITERATIONS_PER_S or faster.  Hardware virtualization runs this loop
 * at about one iteration per cycle (> 10^9/s); emulated KVM manages < 10^6/s.
 */
#define LOOP_ITERATIONS (1u << 18)
#define MIN_ITERATIONS_PER_S 20e6

/* Real-mode code: mov ecx, LOOP_ITERATIONS; 1: dec ecx; jnz 1b; hlt */
static const unsigned char loop_code[] = {
	0x66, 0xb9,			/* mov ecx, imm32 */
	LOOP_ITERATIONS & 0xff, (LOOP_ITERATIONS >> 8) & 0xff,
	(LOOP_ITERATIONS >> 16) & 0xff, LOOP_ITERATIONS >> 24,
	0x66, 0x49,			/* 1: dec ecx */
	0x75, 0xfc,			/* jnz 1b */
	HLT_OPCODE,
};

static void fail(const char *step, const char *fmt, ...)
{
	va_list ap;

	printf("kvm-probe: FAIL: %s: ", step);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	exit(1);
}

static void on_alarm(int sig)
{
	static const char msg[] = "kvm-probe: FAIL: KVM_RUN: no exit within "
				  "the probe timeout\n";

	(void)sig;
	/* Only async-signal-safe calls here. */
	if (write(STDOUT_FILENO, msg, sizeof(msg) - 1) < 0)
		_exit(2);
	_exit(2);
}

static int kvm_ioctl(int fd, unsigned long request, void *arg,
		     const char *step)
{
	int ret = ioctl(fd, request, arg);

	if (ret < 0)
		fail(step, "%s", strerror(errno));
	return ret;
}

static double thread_cpu_seconds(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts) < 0)
		fail("clock_gettime", "%s", strerror(errno));
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Run the vCPU from real-mode address GUEST_CODE_GPA until it halts. */
static void run_at(int vcpu, struct kvm_run *run, const char *step)
{
	struct kvm_regs regs;

	memset(&regs, 0, sizeof(regs));
	regs.rip = GUEST_CODE_GPA;
	regs.rflags = 0x2;	/* bit 1 is reserved and must be set */
	kvm_ioctl(vcpu, KVM_SET_REGS, &regs, "KVM_SET_REGS");

	kvm_ioctl(vcpu, KVM_RUN, NULL, "KVM_RUN");

	if (run->exit_reason == KVM_EXIT_HLT)
		return;
	if (run->exit_reason == KVM_EXIT_FAIL_ENTRY)
		fail(step, "KVM_RUN exit reason KVM_EXIT_FAIL_ENTRY "
		     "(hardware_entry_failure_reason 0x%llx)",
		     (unsigned long long)run->fail_entry.hardware_entry_failure_reason);
	if (run->exit_reason == KVM_EXIT_INTERNAL_ERROR)
		fail(step, "KVM_RUN exit reason KVM_EXIT_INTERNAL_ERROR "
		     "(suberror %u)", run->internal.suberror);
	fail(step, "KVM_RUN exit reason %u, expected KVM_EXIT_HLT (%d)",
	     run->exit_reason, KVM_EXIT_HLT);
}

int main(void)
{
	struct kvm_userspace_memory_region region;
	struct kvm_sregs sregs;
	struct kvm_run *run;
	int kvm, vm, vcpu, api, run_size;
	double cpu_start, cpu_used, rate;
	unsigned char *mem;

	signal(SIGALRM, on_alarm);
	alarm(PROBE_TIMEOUT_S);

	kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (kvm < 0)
		fail("open /dev/kvm", "%s", strerror(errno));

	api = kvm_ioctl(kvm, KVM_GET_API_VERSION, NULL, "KVM_GET_API_VERSION");
	if (api != KVM_API_VERSION)
		fail("KVM_GET_API_VERSION", "got %d, expected %d", api,
		     KVM_API_VERSION);

	vm = kvm_ioctl(kvm, KVM_CREATE_VM, NULL, "KVM_CREATE_VM");

	mem = mmap(NULL, GUEST_PAGE_SIZE, PROT_READ | PROT_WRITE,
		   MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (mem == MAP_FAILED)
		fail("mmap guest memory", "%s", strerror(errno));
	memset(mem, HLT_OPCODE, GUEST_PAGE_SIZE);	/* stray jumps halt too */

	memset(&region, 0, sizeof(region));
	region.slot = 0;
	region.guest_phys_addr = GUEST_CODE_GPA;
	region.memory_size = GUEST_PAGE_SIZE;
	region.userspace_addr = (unsigned long)mem;
	kvm_ioctl(vm, KVM_SET_USER_MEMORY_REGION, &region,
		  "KVM_SET_USER_MEMORY_REGION");

	vcpu = kvm_ioctl(vm, KVM_CREATE_VCPU, (void *)0, "KVM_CREATE_VCPU");

	run_size = kvm_ioctl(kvm, KVM_GET_VCPU_MMAP_SIZE, NULL,
			     "KVM_GET_VCPU_MMAP_SIZE");
	if (run_size < (int)sizeof(*run))
		fail("KVM_GET_VCPU_MMAP_SIZE", "size %d too small", run_size);
	run = mmap(NULL, run_size, PROT_READ | PROT_WRITE, MAP_SHARED, vcpu, 0);
	if (run == MAP_FAILED)
		fail("mmap kvm_run", "%s", strerror(errno));

	/* Real mode, flat: CS base 0 so that RIP is the guest-physical address. */
	kvm_ioctl(vcpu, KVM_GET_SREGS, &sregs, "KVM_GET_SREGS");
	sregs.cs.base = 0;
	sregs.cs.selector = 0;
	kvm_ioctl(vcpu, KVM_SET_SREGS, &sregs, "KVM_SET_SREGS");

	/* Step 1: a bare hlt. */
	mem[0] = HLT_OPCODE;
	run_at(vcpu, run, "hlt");

	/* Step 2: the counted loop, timed in this thread's CPU time. */
	memcpy(mem, loop_code, sizeof(loop_code));
	cpu_start = thread_cpu_seconds();
	run_at(vcpu, run, "speed");
	cpu_used = thread_cpu_seconds() - cpu_start;
	rate = LOOP_ITERATIONS / (cpu_used > 0 ? cpu_used : 1e-9);
	alarm(0);
	if (rate < MIN_ITERATIONS_PER_S)
		fail("speed", "guest ran %.3g loop iterations/s, need %.3g: "
		     "KVM_RUN works, but far below hardware-"
		     "virtualization speed", rate, MIN_ITERATIONS_PER_S);

	printf("kvm-probe: OK: API version %d, hlt exits with KVM_EXIT_HLT, "
	       "guest loop at %.3g iterations/s\n", api, rate);
	return 0;
}

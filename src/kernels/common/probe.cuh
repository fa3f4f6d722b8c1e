/*
 * probe.cuh - per-CTA clock stamps for finding where a kernel's time goes (tuning builds only: -DJFA_TUNING; the
 * default build's kernels have none of this code). A kernel that takes a probe buffer (BwdArgs.probe: the address in
 * JFA_TUNE_PROBE_PTR, bwd_args_begin) writes JFA_PROBE_SLOTS 64-bit words a CTA: slots 0..6 clock64() at the
 * points the kernel names, slot 7 the SM's id (low 32 bits) and the CTA's block count (high 32). clock64 is per SM:
 * compare stamps of CTAs on the same SM only (bench/probe_bwd.py draws the per-SM timelines).
 */
#ifndef JFA_KERNELS_COMMON_PROBE_CUH_
#define JFA_KERNELS_COMMON_PROBE_CUH_

#define JFA_PROBE_SLOTS 8
/* the CTA's index in its grid, x fastest */
#define JFA_CTA_LINEAR() ((long long)blockIdx.x + (long long)gridDim.x * ((long long)blockIdx.y + (long long)gridDim.y * blockIdx.z))

#ifdef JFA_TUNING
__device__ __forceinline__ void jfa_probe_stamp(unsigned long long *pr, long long cta, int slot) {
  if (pr) pr[cta * JFA_PROBE_SLOTS + slot] = (unsigned long long)clock64();
}
__device__ __forceinline__ void jfa_probe_id(unsigned long long *pr, long long cta, long long blocks) {
  if (pr) {
    unsigned int sm;
    asm volatile("mov.u32 %0, %%smid;" : "=r"(sm));
    pr[cta * JFA_PROBE_SLOTS + 7] = (unsigned long long)sm | ((unsigned long long)blocks << 32);
  }
}
#define JFA_PROBE(pr, cta, slot) jfa_probe_stamp((pr), (cta), (slot))
#define JFA_PROBE_ID(pr, cta, blocks) jfa_probe_id((pr), (cta), (blocks))
#else
#define JFA_PROBE(pr, cta, slot) ((void)0)
#define JFA_PROBE_ID(pr, cta, blocks) ((void)0)
#endif

#endif /* JFA_KERNELS_COMMON_PROBE_CUH_ */

// What the C kernels need to know about the processor: whether the x86 instruction-set paths exist, and
// how to wait politely in a spin loop. On other processors only the portable paths are built.
#ifndef RPO_ARCH_H
#define RPO_ARCH_H

#if defined(__x86_64__) || defined(__i386__)
#define RPO_X86 1
#include <immintrin.h>
static inline void rpo_cpu_relax(void) { _mm_pause(); }
#else
#define RPO_X86 0
#if defined(__aarch64__)
static inline void rpo_cpu_relax(void) { __asm__ __volatile__("yield"); }
#else
static inline void rpo_cpu_relax(void) {}
#endif
#endif

#endif

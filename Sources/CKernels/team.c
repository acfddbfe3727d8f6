// A team of worker threads that stay awake between parallel regions: the caller publishes a job by bumping
// an epoch counter, the helpers (spinning on it for a short while, then sleeping on a condition variable)
// each run their part, the caller runs part 0 and spins until every part is done. A decoding step has
// about five parallel regions per layer of ~100 microseconds each; waking Dispatch's workers for each
// cost ~20% of the step (perf: futex wake-ups and idle cores). The spin is bounded (SPIN_NS) so a team
// idle between steps gives the core back to OpenBLAS's threads or other processes.
// Reference: llama.cpp ggml_graph_compute_thread (spinning workers with a barrier per node).
#include "rpo_kernels.h"
#include "arch.h"
#include <pthread.h>
#include <stdatomic.h>
#include <time.h>

#define MAX_HELPERS 63
#define SPIN_NS 100000  // how long an idle helper spins before it sleeps

static struct {
    pthread_mutex_t lock;
    pthread_cond_t wake;
    atomic_long epoch;        // bumped once per job
    atomic_long remaining;    // helpers not yet done with the current job
    atomic_int sleepers;
    rpo_team_fn fn;
    void *ctx;
    long parts;
    int helpers;
    pthread_mutex_t run_lock; // one job at a time (callers on other threads wait)
} team = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0, 0, 0, 0, 0, 0, PTHREAD_MUTEX_INITIALIZER};

static _Thread_local int in_job;  // set while this thread runs a part: nested regions run inline
static pthread_once_t team_once = PTHREAD_ONCE_INIT;
static int team_size_request = 2;

static long now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1000000000L + t.tv_nsec;
}

static void *helper_main(void *arg) {
    const long index = (long)arg;  // this helper runs part index + 1
    long seen = 0;
    for (;;) {
        long e = atomic_load_explicit(&team.epoch, memory_order_acquire);
        if (e == seen) {
            long start = now_ns();
            int spins = 0;
            while ((e = atomic_load_explicit(&team.epoch, memory_order_acquire)) == seen) {
                rpo_cpu_relax();
                if (++spins == 256) {
                    spins = 0;
                    if (now_ns() - start > SPIN_NS) {
                        pthread_mutex_lock(&team.lock);
                        atomic_fetch_add(&team.sleepers, 1);
                        while ((e = atomic_load(&team.epoch)) == seen) pthread_cond_wait(&team.wake, &team.lock);
                        atomic_fetch_sub(&team.sleepers, 1);
                        pthread_mutex_unlock(&team.lock);
                        break;
                    }
                }
            }
        }
        seen = e;
        in_job = 1;
        if (index + 1 < team.parts) team.fn(team.ctx, index + 1, team.parts);
        in_job = 0;
        atomic_fetch_sub_explicit(&team.remaining, 1, memory_order_release);
    }
    return 0;
}

static void team_start(void) {
    int n = team_size_request - 1;
    if (n > MAX_HELPERS) n = MAX_HELPERS;
    for (long i = 0; i < n; i++) {
        pthread_t t;
        pthread_attr_t attr;
        pthread_attr_init(&attr);
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        if (pthread_create(&t, &attr, helper_main, (void *)i) == 0) team.helpers++;
        pthread_attr_destroy(&attr);
    }
}

long rpo_team_size(long threads) {
    team_size_request = threads < 1 ? 1 : (int)threads;
    pthread_once(&team_once, team_start);
    return team.helpers + 1;
}

void rpo_team_run(rpo_team_fn fn, void *ctx, long parts) {
    // one part, no helpers, a region nested in a part, or the team busy with another thread's job: inline
    if (parts <= 1 || team.helpers == 0 || in_job || pthread_mutex_trylock(&team.run_lock) != 0) {
        for (long p = 0; p < parts; p++) fn(ctx, p, parts);
        return;
    }
    if (parts > team.helpers + 1) parts = team.helpers + 1;
    team.fn = fn;
    team.ctx = ctx;
    team.parts = parts;
    atomic_store_explicit(&team.remaining, team.helpers, memory_order_relaxed);
    atomic_fetch_add(&team.epoch, 1);  // seq_cst: ordered before the read of sleepers below
    if (atomic_load(&team.sleepers) > 0) {
        pthread_mutex_lock(&team.lock);
        pthread_cond_broadcast(&team.wake);
        pthread_mutex_unlock(&team.lock);
    }
    in_job = 1;
    fn(ctx, 0, parts);
    in_job = 0;
    // every helper decrements once per job (those without a part too), so the job's fields stay valid
    // until all of them have read them
    while (atomic_load_explicit(&team.remaining, memory_order_acquire) > 0) rpo_cpu_relax();
    pthread_mutex_unlock(&team.run_lock);
}

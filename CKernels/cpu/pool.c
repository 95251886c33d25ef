// cpu/pool.c: the CPU kernels' threads: a persistent pool of workers that run one job at a time on nth threads
// (the caller is thread 0), with a spin barrier inside a job. Not a general task system.
//
// Why not an OpenMP region per kernel: decode runs ~150 parallel kernels per token, each a few microseconds long
// (a 576x960 product streams 345 KB), and libomp's fork/join plus its barrier cost about a microsecond each, and its
// idle workers spin for 200 ms (KMP_BLOCKTIME) after every region, competing with any other threads for the cores.
// Here a fork is one store to each participating worker's own cache line, a join one atomic counter.
//
// Waiting: a worker between jobs spins (with pause) for up to CK_POOL_SPIN_NS, then sleeps on a condition variable,
// so an idle process burns no CPU; the caller wakes sleepers with one broadcast. Joins and barriers spin for the
// same time, then yield the core (the threads they wait for are running a job, so they finish).
// One caller at a time owns the pool; a concurrent or nested caller runs its job on one thread (correct, serial).
//
// Open jobs (ck__parallel_open): the caller does not wait for workers that have not started the job by the time it
// has finished its own part; their work is claimed from the back by the threads that run (ck__claim_*). On a shared
// 2-vCPU guest a thread is descheduled for ~0.5 ms every few ms (Benchmarks/results/decode-avx2.md, 2026-12-01):
// a static split waits that long for the descheduled thread at every join, an open job runs on without it.
#ifndef _GNU_SOURCE
#define _GNU_SOURCE  // sched_getcpu, sched_setaffinity, CPU_SET
#endif
#include <pthread.h>
#include <sched.h>
#include <time.h>
#include <unistd.h>

#include "../ck_internal.h"

#if CK_X86
#include <immintrin.h>
#define CK_PAUSE() _mm_pause()
#else
#define CK_PAUSE() ((void)0)
#endif

// Spin this long before sleeping (workers) or yielding (joins, barriers): longer than the gaps between the
// parallel kernels of one decode step (a few microseconds to tens of them), far shorter than a human notices.
#define CK_POOL_SPIN_NS 200000
// A spinning thread yields its core this often (see spin_while_equal).
#define CK_POOL_YIELD_NS 20000
// Workers at most (threads = workers + the caller).
#define CK_POOL_MAX 255
#define CK_ENTRY_CLOSED ((uint64_t)1 << 31)

typedef struct {
    _Alignas(64) unsigned go;  // the job number this worker should run next (written by the caller)
    int sleeping;              // 1 while the worker waits on the condition variable
} worker_slot;

static struct {
    pthread_mutex_t lock;  // the sleepers' mutex; also serialises worker creation
    pthread_cond_t wake;
    int started;           // workers running: threads 1..started
    int busy;              // 1 while a caller owns the pool
    unsigned job_no;       // number of the current job
    ck_job_fn fn;          // the current job (valid for threads 1..nth-1 once their go equals job_no)
    void *ctx;
    int nth;
    int caller_cpu;        // the CPU the caller posted the current job from (-1: unknown)
    // Entry to the current job: job number << 32 | CK_ENTRY_CLOSED once the caller stops taking workers in (open
    // jobs) | workers that entered. A worker runs a job only after counting itself in with a compare-and-swap.
    _Alignas(64) uint64_t entry;
    _Alignas(64) unsigned done;  // workers finished with the current job
    _Alignas(64) int bar_count;  // threads arrived at the current barrier
    unsigned bar_gen;            // barriers passed
    worker_slot slot[CK_POOL_MAX + 1];
} P = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER};

static int64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

// Whether waiting threads may spin: not when a job has more threads than the machine has cores (a spinning thread
// would hold the core the thread it waits for needs).
static int spin_allowed = 1;

// Spins until *p != value or the spin time is over: returns whether *p changed. Every CK_POOL_YIELD_NS of spinning
// it yields the core once: nearly free when the core has nothing else to run, and when the thread it waits for
// shares this core (see move_off_caller), that thread runs after at most that long instead of after the whole spin.
static int spin_while_equal(const unsigned *p, unsigned value) {
    if (!__atomic_load_n(&spin_allowed, __ATOMIC_RELAXED)) return __atomic_load_n(p, __ATOMIC_ACQUIRE) != value;
    int64_t deadline = 0, next_yield = 0;
    for (int i = 0;; i++) {
        if (__atomic_load_n(p, __ATOMIC_ACQUIRE) != value) return 1;
        CK_PAUSE();
        if ((i & 63) == 63) {  // read the clock now and then (~25 ns through the vDSO)
            const int64_t t = now_ns();
            if (deadline == 0) {
                deadline = t + CK_POOL_SPIN_NS;
                next_yield = t + CK_POOL_YIELD_NS;
            } else if (t > deadline) {
                return 0;
            } else if (t > next_yield) {
                sched_yield();
                next_yield = now_ns() + CK_POOL_YIELD_NS;
            }
        }
    }
}

// Waits until *p != value: spins, then yields the core between checks.
static void wait_while_equal(const unsigned *p, unsigned value) {
    if (spin_while_equal(p, value)) return;
    while (__atomic_load_n(p, __ATOMIC_ACQUIRE) == value) sched_yield();
}

// A worker that finds itself on its caller's CPU moves off it: sets its affinity to the CPUs it was allowed at start
// less the caller's. Seen in a 2-vCPU KVM guest (Benchmarks/results/decode-avx2.md, 2026-12-01): the wake-up placed
// a sleeping worker on its caller's vCPU, where it spun 200 µs per job while the caller waited behind it, then
// slept, and the next wake-up placed it there again: most of a decode ran on one vCPU, the other idle, with a context
// switch per job; the load balancer did not separate them even with both threads runnable. Costs one sched_getcpu
// per job (vDSO), a system call only on a move; the worker stays off that CPU until it meets its caller again.
static void move_off_caller(const cpu_set_t *allowed, int caller_cpu) {
    if (caller_cpu < 0 || caller_cpu >= CPU_SETSIZE || sched_getcpu() != caller_cpu) return;
    cpu_set_t others = *allowed;
    CPU_CLR(caller_cpu, &others);
    if (CPU_COUNT(&others) > 0) sched_setaffinity(0, sizeof others, &others);
}

// Counts this worker into job `job` unless the caller has closed it or posted a later one: whether it may run it.
static int enter_job(unsigned job) {
    uint64_t e = __atomic_load_n(&P.entry, __ATOMIC_ACQUIRE);
    for (;;) {
        if ((unsigned)(e >> 32) != job || (e & CK_ENTRY_CLOSED)) return 0;
        if (__atomic_compare_exchange_n(&P.entry, &e, e + 1, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) return 1;
    }
}

static void *worker_main(void *arg) {
    const int i = (int)(intptr_t)arg;
    worker_slot *s = &P.slot[i];
    cpu_set_t allowed;
    const int know_allowed = sched_getaffinity(0, sizeof allowed, &allowed) == 0;
    unsigned seen = 0;  // go starts at 0; the first job may be posted before this thread runs
    for (;;) {
        if (!spin_while_equal(&s->go, seen)) {
            pthread_mutex_lock(&P.lock);
            __atomic_store_n(&s->sleeping, 1, __ATOMIC_SEQ_CST);
            while (__atomic_load_n(&s->go, __ATOMIC_SEQ_CST) == seen) pthread_cond_wait(&P.wake, &P.lock);
            __atomic_store_n(&s->sleeping, 0, __ATOMIC_RELAXED);
            pthread_mutex_unlock(&P.lock);
        }
        seen = __atomic_load_n(&s->go, __ATOMIC_ACQUIRE);
        // go was set after entry, fn, ctx and nth (release), and this worker is one of the job's threads
        if (know_allowed) move_off_caller(&allowed, P.caller_cpu);
        if (!enter_job(seen)) continue;  // an open job that ended without this worker (fn, ctx may be gone)
        const ck_thread th = {i, P.nth};
        P.fn(P.ctx, &th);
        __atomic_fetch_add(&P.done, 1u, __ATOMIC_RELEASE);
    }
    return NULL;
}

// Starts workers up to `want` (called by the owner); returns how many run.
static int ensure_workers(int want) {
    if (want > CK_POOL_MAX) want = CK_POOL_MAX;
    pthread_mutex_lock(&P.lock);
    while (P.started < want) {
        pthread_attr_t attr;
        pthread_attr_init(&attr);
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        // 8 MB, the usual main-thread stack: only touched pages cost memory, and sanitizer builds at -O0 give the
        // unrolled SIMD tiles frames far beyond 1 MB
        pthread_attr_setstacksize(&attr, 8 << 20);
        pthread_t t;
        const int failed = pthread_create(&t, &attr, worker_main, (void *)(intptr_t)(P.started + 1));
        pthread_attr_destroy(&attr);
        if (failed) break;  // run the job on the threads there are
        P.started++;
    }
    const int n = P.started;
    pthread_mutex_unlock(&P.lock);
    return n;
}

static void run_job(int nth, ck_job_fn fn, void *ctx, int open) {
    const ck_thread solo = {0, 1};
    if (nth <= 1 || __atomic_exchange_n(&P.busy, 1, __ATOMIC_ACQUIRE)) {
        fn(ctx, &solo);  // one thread asked for, or another caller owns the pool: run here, alone
        return;
    }
    const int workers = ensure_workers(nth - 1);
    if (nth > workers + 1) nth = workers + 1;
    static long cores = 0;
    if (cores == 0) cores = sysconf(_SC_NPROCESSORS_ONLN);
    __atomic_store_n(&spin_allowed, cores <= 0 || nth <= cores, __ATOMIC_RELAXED);
    P.fn = fn;
    P.ctx = ctx;
    P.nth = nth;
    P.caller_cpu = sched_getcpu();
    __atomic_store_n(&P.done, 0u, __ATOMIC_RELAXED);
    const unsigned job = ++P.job_no;
    __atomic_store_n(&P.entry, (uint64_t)job << 32, __ATOMIC_RELAXED);  // published by the go stores below
    int sleepers = 0;
    for (int i = 1; i < nth; i++) {
        __atomic_store_n(&P.slot[i].go, job, __ATOMIC_SEQ_CST);
        sleepers |= __atomic_load_n(&P.slot[i].sleeping, __ATOMIC_SEQ_CST);
    }
    if (sleepers) {  // under the mutex, so a worker between its check of go and its wait cannot miss the signal
        pthread_mutex_lock(&P.lock);
        pthread_cond_broadcast(&P.wake);
        pthread_mutex_unlock(&P.lock);
    }
    const ck_thread me = {0, nth};
    fn(ctx, &me);
    // join: every worker of the job (open jobs: every worker that entered before the close) has added one to done
    const unsigned joined =
        open ? (unsigned)(__atomic_fetch_or(&P.entry, CK_ENTRY_CLOSED, __ATOMIC_ACQ_REL) & (CK_ENTRY_CLOSED - 1))
             : (unsigned)(nth - 1);
    for (unsigned d; (d = __atomic_load_n(&P.done, __ATOMIC_ACQUIRE)) != joined;) wait_while_equal(&P.done, d);
    __atomic_store_n(&P.busy, 0, __ATOMIC_RELEASE);
}

void ck__parallel(int nth, ck_job_fn fn, void *ctx) { run_job(nth, fn, ctx, 0); }

void ck__parallel_open(int nth, ck_job_fn fn, void *ctx) { run_job(nth, fn, ctx, 1); }

// MARK: - Claims

// span = lo | hi << 32: units [lo, hi) not yet taken. The owner takes from the front, others from the back.
void ck__claim_init(ck_claim *c, int64_t lo, int64_t hi) {
    __atomic_store_n(&c->span, (uint64_t)lo | (uint64_t)hi << 32, __ATOMIC_RELAXED);
}

int64_t ck__claim(ck_claim *c, int64_t chunk, int back, int64_t *start) {
    uint64_t s = __atomic_load_n(&c->span, __ATOMIC_RELAXED);
    for (;;) {
        const int64_t lo = (int64_t)(uint32_t)s, hi = (int64_t)(s >> 32);
        if (lo >= hi) return 0;
        const int64_t n = hi - lo < chunk ? hi - lo : chunk;
        const uint64_t next = back ? (uint64_t)lo | (uint64_t)(hi - n) << 32 : (uint64_t)(lo + n) | (uint64_t)hi << 32;
        if (__atomic_compare_exchange_n(&c->span, &s, next, 0, __ATOMIC_ACQ_REL, __ATOMIC_RELAXED)) {
            *start = back ? hi - n : lo;
            return n;
        }
    }
}

void ck__barrier(const ck_thread *th) {
    if (th->nth <= 1) return;
    const unsigned gen = __atomic_load_n(&P.bar_gen, __ATOMIC_ACQUIRE);
    if (__atomic_add_fetch(&P.bar_count, 1, __ATOMIC_ACQ_REL) == th->nth) {
        __atomic_store_n(&P.bar_count, 0, __ATOMIC_RELAXED);  // the others wait on bar_gen, not on the count
        __atomic_store_n(&P.bar_gen, gen + 1, __ATOMIC_RELEASE);
    } else {
        wait_while_equal(&P.bar_gen, gen);
    }
}

// MARK: - Ranges

typedef struct {
    ck_range_fn fn;
    const void *args;
    int64_t n, align;
} range_job;

static void range_run(void *p, const ck_thread *th) {
    const range_job *j = (const range_job *)p;
    int64_t lo, hi;
    ck__split_range(j->n, th->ith, th->nth, j->align, &lo, &hi);
    if (hi > lo) j->fn(j->args, lo, hi);
}

void ck__parallel_ranges(int nth, int64_t n, int64_t align, ck_range_fn fn, const void *args) {
    if (n <= 0) return;
    if (nth <= 1) {
        fn(args, 0, n);
        return;
    }
    range_job j = {fn, args, n, align};
    ck__parallel(nth, range_run, &j);
}

// MARK: - Self-check

typedef struct {
    int rounds;
    int64_t *cells;  // nth * rounds
    int errors;
    int nth;         // threads the job ran on
} check_job;

static void check_run(void *p, const ck_thread *th) {
    check_job *j = (check_job *)p;
    if (th->ith == 0) j->nth = th->nth;
    for (int r = 0; r < j->rounds; r++) {
        j->cells[(int64_t)r * th->nth + th->ith] = r + 1;
        ck__barrier(th);
        // after the barrier every thread's cell of this round is written
        for (int i = 0; i < th->nth; i++)
            if (__atomic_load_n(&j->cells[(int64_t)r * th->nth + i], __ATOMIC_RELAXED) != r + 1)
                __atomic_fetch_add(&j->errors, 1, __ATOMIC_RELAXED);
    }
}

int ck_pool_check(int nthreads, int rounds, int64_t *cells, int *threads) {
    // cells: nthreads * rounds zeroed int64 (the caller's memory: kernels never allocate)
    if (nthreads < 1 || rounds < 0 || cells == NULL || threads == NULL) return -1;
    check_job j = {rounds, cells, 0, 0};
    ck__parallel(nthreads, check_run, &j);
    *threads = j.nth;
    return j.errors;
}

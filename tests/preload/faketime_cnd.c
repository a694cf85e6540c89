/* libmochi_faketime_cnd.so: preloaded after libfaketime
 * (LD_PRELOAD=libfaketime.so.1:libmochi_faketime_cnd.so) into programs
 * that use librdkafka, so that their timed waits last as long as asked.
 *
 * librdkafka waits on C11 condition variables until deadlines it reads
 * from timespec_get(TIME_UTC), which libfaketime fakes. glibc's
 * cnd_timedwait calls its own pthread_cond_timedwait directly, where
 * libfaketime (which moves the deadlines of pthread_cond_timedwait) cannot
 * step in, so the wait runs on the real clock to the fake deadline: with
 * an offset of hours, rd_kafka_poll(100 ms) blocks for hours. This
 * cnd_timedwait moves the deadline from the fake clock to the real one
 * and calls glibc's. Without libfaketime both clocks agree and nothing
 * moves. Test-only: never installed. */
#include <dlfcn.h>
#include <stdint.h>
#include <string.h>
#include <sys/syscall.h>
#include <threads.h>
#include <time.h>
#include <unistd.h>

#define NS_PER_S INT64_C(1000000000)

typedef int (*cnd_timedwait_fn)(cnd_t *restrict, mtx_t *restrict, const struct timespec *restrict);

int cnd_timedwait(cnd_t *restrict cond, mtx_t *restrict mutex,
                  const struct timespec *restrict deadline);

int cnd_timedwait(cnd_t *restrict cond, mtx_t *restrict mutex,
                  const struct timespec *restrict deadline)
{
    static cnd_timedwait_fn next; /* glibc's; looked up once, any thread may race to it */
    cnd_timedwait_fn glibc = __atomic_load_n(&next, __ATOMIC_ACQUIRE);
    if (glibc == NULL) {
        void *sym = dlsym(RTLD_NEXT, "cnd_timedwait");
        if (sym == NULL)
            return thrd_error;
        memcpy(&glibc, &sym, sizeof(glibc)); /* ISO C has no cast from void * */
        __atomic_store_n(&next, glibc, __ATOMIC_RELEASE);
    }
    struct timespec fake, real;
    timespec_get(&fake, TIME_UTC);                     /* libfaketime's clock */
    syscall(SYS_clock_gettime, CLOCK_REALTIME, &real); /* the kernel's, past libfaketime */
    int64_t ns = ((int64_t)deadline->tv_sec - fake.tv_sec + real.tv_sec) * NS_PER_S +
                 deadline->tv_nsec - fake.tv_nsec + real.tv_nsec;
    struct timespec moved = {.tv_sec = (time_t)(ns / NS_PER_S), .tv_nsec = (long)(ns % NS_PER_S)};
    return glibc(cond, mutex, &moved);
}

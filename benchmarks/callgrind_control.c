/* Start and stop callgrind's counting from Python (ctypes), around a measured loop.
 *
 * Built by benchmarks.run into a temporary directory when valgrind and a C
 * compiler are present. Outside valgrind these requests do nothing. */
#include <valgrind/callgrind.h>

void bench_count_start(void) {
    CALLGRIND_START_INSTRUMENTATION;
    CALLGRIND_TOGGLE_COLLECT;
}

void bench_count_stop(void) {
    CALLGRIND_TOGGLE_COLLECT;
    CALLGRIND_STOP_INSTRUMENTATION;
}

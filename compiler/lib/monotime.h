/* monotime: seconds on the monotonic clock, for deadlines and durations that
 * must not jump with the wall clock (the runner and the API clients). */
#ifndef CLUSTERC_MONOTIME_H
#define CLUSTERC_MONOTIME_H

double now_mono(void);

#endif

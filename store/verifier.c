#include "store/verifier.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "core/change.h"

enum { CS__UNCLAIMED = 0, CS__CLAIMED = 1, CS__VALID = 2, CS__INVALID = 3 };

struct cs_verifier_s {
  const cs_span_t *spans;
  size_t count;
  _Atomic size_t next; /* next index to claim */
  _Atomic unsigned char *state;
  _Atomic bool stop;
  pthread_t thread;
  bool thread_started;
  cs_change_t *caller_scratch; /* the caller's, for the changes it verifies itself */
};

/* Claims and verifies one change into the thread's own scratch; returns
 * false when none is left. */
static bool cs__verify_next(cs_verifier_t *v, cs_change_t *scratch) {
  size_t i = atomic_fetch_add(&v->next, 1);
  if (i >= v->count) return false;
  atomic_store(&v->state[i], CS__CLAIMED);
  bool ok = cs_change_parse_verified(v->spans[i], scratch) == CS_OK;
  atomic_store_explicit(&v->state[i], ok ? CS__VALID : CS__INVALID, memory_order_release);
  return true;
}

static void *cs__verifier_main(void *arg) {
  cs_verifier_t *v = arg;
  cs_change_t *scratch = malloc(sizeof(*scratch));
  while (scratch && !atomic_load(&v->stop) && cs__verify_next(v, scratch)) {
  }
  free(scratch);
  return NULL;
}

cs_verifier_t *cs_verifier_start(const cs_span_t *spans, size_t count) {
  cs_verifier_t *v = calloc(1, sizeof(*v));
  if (!v) return NULL;
  v->spans = spans;
  v->count = count;
  v->state = calloc(count ? count : 1, sizeof(*v->state));
  v->caller_scratch = malloc(sizeof(*v->caller_scratch));
  if (!v->state || !v->caller_scratch) {
    free((void *)v->state);
    free(v->caller_scratch);
    free(v);
    return NULL;
  }
  v->thread_started = pthread_create(&v->thread, NULL, cs__verifier_main, v) == 0;
  return v;
}

bool cs_verifier_wait(cs_verifier_t *v, size_t i) {
  for (;;) {
    unsigned char s = atomic_load_explicit(&v->state[i], memory_order_acquire);
    if (s == CS__VALID || s == CS__INVALID) return s == CS__VALID;
    /* Help rather than wait: claim the next unverified change, or yield
     * while the helper finishes the one it holds. */
    if (!cs__verify_next(v, v->caller_scratch)) sched_yield();
  }
}

void cs_verifier_stop(cs_verifier_t *v) {
  if (!v) return;
  atomic_store(&v->stop, true);
  if (v->thread_started) pthread_join(v->thread, NULL);
  free((void *)v->state);
  free(v->caller_scratch);
  free(v);
}

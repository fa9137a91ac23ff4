#include "core/error.h"

#include <stdio.h>
#include <stdlib.h>

static const char *const cs__err_text[] = {
#define CS__ERR_TEXT(name, text) text,
    CS_ERRNO_MAP(CS__ERR_TEXT)
#undef CS__ERR_TEXT
};

static const char *const cs__err_name[] = {
#define CS__ERR_NAME(name, text) #name,
    CS_ERRNO_MAP(CS__ERR_NAME)
#undef CS__ERR_NAME
};

_Static_assert(CS_ARRAY_LEN(cs__err_text) == CS_ERR_COUNT, "one text per error");
_Static_assert(CS_ARRAY_LEN(cs__err_name) == CS_ERR_COUNT, "one name per error");

const char *cs_strerror(int err) {
  if (err < 0 || err >= CS_ERR_COUNT) return "unknown error";
  return cs__err_text[err];
}

const char *cs_errname(int err) {
  if (err < 0 || err >= CS_ERR_COUNT) return "EUNKNOWN";
  return cs__err_name[err];
}

/* The one place core/ writes: a broken invariant ends the process, and the
 * line on stderr is all that is left to tell which one. */
void cs__assert_fail(const char *expr, const char *func, const char *file, int line) {
  fprintf(stderr, "clubsync: assertion failed: %s, in %s at %s:%d\n", expr, func, file, line);
  fflush(stderr);
  abort();
}

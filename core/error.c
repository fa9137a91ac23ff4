#include "core/error.h"

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

const char *cs_strerror(int err) {
  if (err < 0 || err >= CS_ERR_COUNT) return "unknown error";
  return cs__err_text[err];
}

const char *cs_errname(int err) {
  if (err < 0 || err >= CS_ERR_COUNT) return "EUNKNOWN";
  return cs__err_name[err];
}

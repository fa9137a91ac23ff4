#ifndef CS_CORE_ERROR_H
#define CS_CORE_ERROR_H

/* One error enum for the whole project, generated with an X-macro so that the
 * code, its name and its user-facing text never drift apart. Codes from LMDB,
 * libuv and the OS are translated into these at the edge that calls them. */
#define CS_ERRNO_MAP(X)                                                        \
  X(OK, "ok")                                                                  \
  X(ENOMEM, "out of memory")                                                   \
  X(EINVAL, "invalid argument")                                                \
  X(ETOOBIG, "data exceeds a size limit")                                      \
  X(ETRUNC, "data is truncated")                                               \
  X(EDECODE, "data is not well-formed msgpack")                                \
  X(EFORMAT, "a field has the wrong type or value")                            \
  X(EVERSION, "unsupported format version")                                    \
  X(EHASH, "payload does not match its hash")                                  \
  X(ESIG, "signature does not verify")                                         \
  X(EPREV, "previous change in the author's chain is missing")                 \
  X(EDEPS, "a change this one depends on is missing")                          \
  X(ECHAIN, "prev does not match the author's chain")                          \
  X(ELAMPORT, "lamport clock does not follow its dependencies")                \
  X(EAUTH, "author is not authorised for this operation")                      \
  X(EFORK, "author signed two different changes with the same seq")            \
  X(EUNKNOWNOP, "unknown operation")                                           \
  X(ECLUB, "unknown club")                                                     \
  X(ENOTFOUND, "not found")                                                    \
  X(EAMBIGUOUS, "prefix matches more than one id")                             \
  X(EEXIST, "already exists")                                                  \
  X(EIO, "input/output error")                                                 \
  X(ENOSPC, "disk or store is full")                                           \
  X(ESTORE, "store error")                                                     \
  X(EBUDGET, "allocation exceeds the campaign budget")                         \
  X(ECLOSED, "closed")                                                         \
  X(EPROTO, "protocol violation")                                              \
  X(EHANDSHAKE, "handshake failed")                                            \
  X(ECONFLICT, "conflicting state")                                           \
  X(ERESULTS, "frozen results differ from the tally of the ballots seen")      \
  X(EREF, "names an object its change has not seen")

typedef enum cs_err_e {
#define CS__ERR_ENUM(name, text) CS_##name,
  CS_ERRNO_MAP(CS__ERR_ENUM)
#undef CS__ERR_ENUM
  CS_ERR_COUNT
} cs_err_t;

/* Returns a static, human-readable sentence fragment for an error code. */
const char *cs_strerror(int err);
/* Returns the symbolic name ("EHASH") of an error code, for logs and JSON. */
const char *cs_errname(int err);

#define CS_MUST_USE __attribute__((warn_unused_result))

/* The number of elements of an array (never of a pointer). Tables indexed by
 * an enum are declared unsized and checked against the enum's count, so a
 * new enumerator without its row fails to compile:
 *   static const char *const names[] = {...};
 *   _Static_assert(CS_ARRAY_LEN(names) == CS_X_COUNT, "one name per X"); */
#define CS_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* An invariant of our own code, checked in every build, release included
 * (like LMDB's mdb_cassert): when it fails the process is already wrong, so
 * it names the expression, the function, the file and the line on stderr and
 * aborts before a wrong value can reach the replica or the wire. It is never
 * for input: hostile or corrupt bytes are an error code with a reason. */
#define CS_ASSERT(expr) ((expr) ? (void)0 : cs__assert_fail(#expr, __func__, __FILE__, __LINE__))
_Noreturn void cs__assert_fail(const char *expr, const char *func, const char *file, int line);

#endif

#ifndef CS_CORE_TEXT_H
#define CS_CORE_TEXT_H

/* Text as people type it: the rule every node applies to a text value
 * (valid UTF-8, and for one-line fields no blank value, line break or
 * control character), and the folding and display width that commands use
 * to compare and align names. Unicode comes from utf8proc, not from tables
 * of our own (docs/decisions.md). */

#include <stdbool.h>
#include <stddef.h>

#include "core/change.h"

/* What is wrong with a text, in the order the checks run. */
typedef enum cs_text_problem_e {
  CS_TEXT_OK = 0,
  CS_TEXT_UTF8,       /* not valid UTF-8 */
  CS_TEXT_TOO_LONG,   /* more bytes than its field's limit */
  CS_TEXT_BLANK,      /* one-line field: empty or only spaces */
  CS_TEXT_LINE_BREAK, /* one-line field: a line or paragraph break */
  CS_TEXT_CONTROL,    /* a control character (tab, line feed and carriage return are allowed in long text) */
  CS_TEXT_PROBLEM_COUNT
} cs_text_problem_t;

/* Checks text for a field holding at most max_bytes: one-line fields
 * (titles, names, tags) refuse blanks, breaks and control characters, long
 * text (bodies, comments) only control characters other than tab, line
 * feed and carriage return. Invalid UTF-8 is refused in both. The answer
 * reads only the bytes, with Unicode properties that do not change between
 * Unicode versions (Cc, Zl, Zp, and Zs of assigned characters), so every
 * node gives the same. *code_point receives the offending character for
 * CS_TEXT_LINE_BREAK and CS_TEXT_CONTROL (may be NULL). */
cs_text_problem_t cs_text_check(cs_span_t text, bool one_line, size_t max_bytes, int32_t *code_point);

/* The same problem as a core error: CS_ETOOBIG past the limit, else
 * CS_EFORMAT (CS_OK when there is none). */
int cs_text_error(cs_text_problem_t problem);

/* Folds a name for comparison: NFKC, case folded, accents and other marks
 * stripped, runs of spaces and punctuation turned into one space and
 * trimmed, so "Musée  Fabre", "musee fabre" and "MUSÉE-FABRE" fold alike.
 * Writes a NUL-terminated UTF-8 string of at most out_len - 1 bytes (cut
 * on a character boundary). Invalid UTF-8 folds to "". Returns the length
 * written. */
size_t cs_text_fold(const char *in, char *out, size_t out_len);

/* The display width of UTF-8 text in terminal columns (a combining accent
 * takes none, a CJK character two); invalid bytes count one each. */
size_t cs_text_width(const char *text);

#endif

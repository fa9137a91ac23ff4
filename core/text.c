/* Text rules, folding and width, on utf8proc. */
#include "core/text.h"

#include <stdlib.h>
#include <string.h>

#include <utf8proc.h>

#include "core/error.h"

cs_text_problem_t cs_text_check(cs_span_t text, bool one_line, size_t max_bytes, int32_t *code_point) {
  const utf8proc_uint8_t *p = text.ptr;
  utf8proc_ssize_t left = (utf8proc_ssize_t)text.len;
  bool blank = true; /* only spaces and invisible format characters (a zero-width space) so far */
  cs_text_problem_t found = CS_TEXT_OK;
  int32_t at = 0;
  /* Validity first: a text that is not UTF-8 has no characters to judge. */
  while (left > 0) {
    utf8proc_int32_t c;
    utf8proc_category_t cat;
    /* ASCII, most of any French text, is judged without a table look-up:
     * ingest runs this on every text of every change. */
    if (*p < 0x80) {
      c = *p++;
      left--;
      if (found) continue;
      cat = c < 0x20 || c == 0x7f ? UTF8PROC_CATEGORY_CC : c == ' ' ? UTF8PROC_CATEGORY_ZS : UTF8PROC_CATEGORY_LO;
    } else {
      utf8proc_ssize_t n = utf8proc_iterate(p, left, &c);
      if (n <= 0) return CS_TEXT_UTF8;
      p += n;
      left -= n;
      if (found) continue;
      cat = utf8proc_category(c);
    }
    if (one_line && (c == '\n' || c == '\r' || c == 0x85 || cat == UTF8PROC_CATEGORY_ZL ||
                     cat == UTF8PROC_CATEGORY_ZP)) {
      found = CS_TEXT_LINE_BREAK;
      at = c;
    } else if (cat == UTF8PROC_CATEGORY_CC && (one_line || (c != '\t' && c != '\n' && c != '\r'))) {
      found = CS_TEXT_CONTROL;
      at = c;
    }
    if (blank && cat != UTF8PROC_CATEGORY_ZS && cat != UTF8PROC_CATEGORY_CF) blank = false;
  }
  if (text.len > max_bytes) return CS_TEXT_TOO_LONG;
  if (one_line && blank && !found) return CS_TEXT_BLANK;
  if (found && code_point) *code_point = at;
  return found;
}

int cs_text_error(cs_text_problem_t problem) {
  if (problem == CS_TEXT_OK) return CS_OK;
  return problem == CS_TEXT_TOO_LONG ? CS_ETOOBIG : CS_EFORMAT;
}

size_t cs_text_fold(const char *in, char *out, size_t out_len) {
  if (out_len == 0) return 0;
  out[0] = '\0';
  utf8proc_uint8_t *folded = NULL;
  utf8proc_ssize_t len =
      utf8proc_map((const utf8proc_uint8_t *)in, 0, &folded,
                   UTF8PROC_NULLTERM | UTF8PROC_STABLE | UTF8PROC_COMPOSE | UTF8PROC_COMPAT | UTF8PROC_CASEFOLD |
                       UTF8PROC_STRIPMARK | UTF8PROC_IGNORE);
  if (len < 0) return 0;
  /* Letters and digits are kept; anything else separates words. */
  size_t n = 0;
  bool space = false;
  for (utf8proc_ssize_t i = 0; i < len;) {
    utf8proc_int32_t c;
    utf8proc_ssize_t k = utf8proc_iterate(folded + i, len - i, &c);
    if (k <= 0) break;
    utf8proc_category_t cat = utf8proc_category(c);
    bool word = (cat >= UTF8PROC_CATEGORY_LU && cat <= UTF8PROC_CATEGORY_LO) ||
                (cat >= UTF8PROC_CATEGORY_ND && cat <= UTF8PROC_CATEGORY_NO);
    if (!word) {
      space = n > 0;
    } else {
      size_t need = (size_t)k + (space ? 1u : 0u);
      if (n + need >= out_len) break;
      if (space) out[n++] = ' ';
      memcpy(out + n, folded + i, (size_t)k);
      n += (size_t)k;
      space = false;
    }
    i += k;
  }
  out[n] = '\0';
  free(folded);
  return n;
}

size_t cs_text_width(const char *text) {
  const utf8proc_uint8_t *p = (const utf8proc_uint8_t *)text;
  utf8proc_ssize_t left = (utf8proc_ssize_t)strlen(text);
  size_t width = 0;
  while (left > 0) {
    utf8proc_int32_t c;
    utf8proc_ssize_t n = utf8proc_iterate(p, left, &c);
    if (n <= 0) {
      width++;
      p++;
      left--;
      continue;
    }
    int w = utf8proc_charwidth(c);
    width += w > 0 ? (size_t)w : 0u;
    p += n;
    left -= n;
  }
  return width;
}

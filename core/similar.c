#include "core/similar.h"

#include "core/text.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define CS__FOLD_MAX 512

/* Folded as names are (cs_text_fold: NFKC, case, accents, punctuation),
 * with a space at both ends so a word's first and last letters make
 * trigrams too. */
static size_t cs__fold(const char *in, char *out) {
  out[0] = ' ';
  size_t n = 1 + cs_text_fold(in, out + 1, CS__FOLD_MAX - 2);
  out[n++] = ' ';
  out[n] = 0;
  return n;
}

static int cs__cmp_u32(const void *a, const void *b) {
  uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
  return x < y ? -1 : x > y;
}

/* The distinct trigrams of folded text, sorted; returns their count. */
static size_t cs__trigrams(const char *text, size_t len, uint32_t *out) {
  size_t n = 0;
  for (size_t i = 0; i + 3 <= len; i++)
    out[n++] = (uint32_t)(unsigned char)text[i] << 16 | (uint32_t)(unsigned char)text[i + 1] << 8 |
               (unsigned char)text[i + 2];
  qsort(out, n, sizeof(*out), cs__cmp_u32);
  size_t distinct = 0;
  for (size_t i = 0; i < n; i++)
    if (distinct == 0 || out[distinct - 1] != out[i]) out[distinct++] = out[i];
  return distinct;
}

double cs_similarity(const char *a, const char *b) {
  char fa[CS__FOLD_MAX], fb[CS__FOLD_MAX];
  uint32_t ta[CS__FOLD_MAX], tb[CS__FOLD_MAX];
  size_t na = cs__trigrams(fa, cs__fold(a, fa), ta);
  size_t nb = cs__trigrams(fb, cs__fold(b, fb), tb);
  if (na == 0 || nb == 0) return 0.0;
  size_t common = 0;
  for (size_t i = 0, j = 0; i < na && j < nb;) {
    if (ta[i] == tb[j]) common++, i++, j++;
    else if (ta[i] < tb[j]) i++;
    else j++;
  }
  return 2.0 * (double)common / (double)(na + nb);
}

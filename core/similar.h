#ifndef CS_CORE_SIMILAR_H
#define CS_CORE_SIMILAR_H

/* How alike two request titles look, for the duplicate suggestion of
 * `request add`: the Dice coefficient of their sets of character trigrams,
 * after folding as names are (cs_text_fold: case, accents, punctuation), so
 * "Export PDF des constats d'état" and "export des constats d'etat en PDF"
 * score high. */

/* 0.0 (nothing in common) to 1.0 (the same once folded). */
double cs_similarity(const char *a, const char *b);

#endif

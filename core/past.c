/* Causal pasts as version vectors: see core/past.h. */
#define _GNU_SOURCE /* qsort_r */
#include "core/past.h"

#include <stdlib.h>
#include <string.h>

int cs_past_seq(const cs_past_t *past, const uint8_t change[CS_ID_LEN], const uint8_t author[CS_KEY_LEN],
                uint64_t *seq) {
  *seq = 0;
  return past->seq_in_past(past->ctx, change, author, seq);
}

int cs_past_holds(const cs_past_t *past, const uint8_t change[CS_ID_LEN], const uint8_t author[CS_KEY_LEN],
                  uint64_t seq, bool *holds) {
  uint64_t known;
  int err = cs_past_seq(past, change, author, &known);
  *holds = !err && seq > 0 && known >= seq;
  return err;
}

/* Version vectors -------------------------------------------------------- */

void cs_vv_free(cs_vv_t *vv) {
  free(vv->items);
  memset(vv, 0, sizeof(*vv));
}

void cs_vv_clear(cs_vv_t *vv) { vv->count = 0; }

static int cs__vv_reserve(cs_vv_t *vv, uint32_t need) {
  if (need <= vv->cap) return CS_OK;
  uint32_t cap = vv->cap ? vv->cap : 8;
  while (cap < need) cap *= 2;
  cs_vv_entry_t *items = realloc(vv->items, (size_t)cap * sizeof(*items));
  if (!items) return CS_ENOMEM;
  vv->items = items;
  vv->cap = cap;
  return CS_OK;
}

/* The first index whose author is >= `author`. */
static uint32_t cs__vv_find(const cs_vv_t *vv, uint32_t author) {
  uint32_t lo = 0, hi = vv->count;
  while (lo < hi) {
    uint32_t mid = lo + (hi - lo) / 2;
    if (vv->items[mid].author < author) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

uint64_t cs_vv_get(const cs_vv_t *vv, uint32_t author) {
  uint32_t i = cs__vv_find(vv, author);
  return i < vv->count && vv->items[i].author == author ? vv->items[i].seq : 0;
}

int cs_vv_raise(cs_vv_t *vv, uint32_t author, uint64_t seq) {
  uint32_t i = cs__vv_find(vv, author);
  if (i < vv->count && vv->items[i].author == author) {
    if (vv->items[i].seq < seq) vv->items[i].seq = seq;
    return CS_OK;
  }
  int err = cs__vv_reserve(vv, vv->count + 1);
  if (err) return err;
  memmove(vv->items + i + 1, vv->items + i, (size_t)(vv->count - i) * sizeof(vv->items[0]));
  vv->items[i] = (cs_vv_entry_t){author, seq};
  vv->count++;
  return CS_OK;
}

int cs_vv_merge(cs_vv_t *into, const cs_vv_t *from) {
  if (from->count == 0) return CS_OK;
  uint32_t room = into->count + from->count;
  cs_vv_entry_t *merged = malloc((size_t)room * sizeof(*merged));
  if (!merged) return CS_ENOMEM;
  uint32_t a = 0, b = 0, n = 0;
  while (a < into->count || b < from->count) {
    if (b == from->count || (a < into->count && into->items[a].author < from->items[b].author)) {
      merged[n++] = into->items[a++];
    } else if (a == into->count || from->items[b].author < into->items[a].author) {
      merged[n++] = from->items[b++];
    } else {
      merged[n] = into->items[a++];
      if (merged[n].seq < from->items[b].seq) merged[n].seq = from->items[b].seq;
      n++, b++;
    }
  }
  free(into->items);
  into->items = merged;
  into->count = n;
  into->cap = room;
  return CS_OK;
}

/* Unsigned LEB128, at most 10 bytes. */
static void cs__varint_write(cs_buf_t *out, uint64_t v) {
  uint8_t bytes[10];
  size_t n = 0;
  do {
    uint8_t byte = v & 0x7f;
    v >>= 7;
    bytes[n++] = byte | (v ? 0x80 : 0);
  } while (v);
  cs_buf_append(out, bytes, n);
}

static int cs__varint_read(cs_mp_reader_t *r, uint64_t *v) {
  uint64_t value = 0;
  for (unsigned shift = 0; shift < 64; shift += 7) {
    if (r->pos == r->end) return CS_ETRUNC;
    uint8_t byte = *r->pos++;
    if (shift == 63 && byte > 1) return CS_EFORMAT;
    value |= (uint64_t)(byte & 0x7f) << shift;
    if (!(byte & 0x80)) {
      *v = value;
      return CS_OK;
    }
  }
  return CS_EFORMAT;
}

void cs_vv_encode(const cs_vv_t *vv, cs_buf_t *out) {
  cs__varint_write(out, vv->count);
  uint32_t previous = 0;
  for (uint32_t i = 0; i < vv->count; i++) {
    cs__varint_write(out, vv->items[i].author - previous);
    cs__varint_write(out, vv->items[i].seq);
    previous = vv->items[i].author;
  }
}

/* Reads the entries of an encoded vector one by one, checking the order. */
typedef struct cs__vv_reader_s {
  cs_mp_reader_t r;
  uint64_t left;
  uint64_t author;
  bool first;
} cs__vv_reader_t;

static int cs__vv_reader_init(cs__vv_reader_t *vr, cs_span_t bytes) {
  vr->r = cs_mp_reader(bytes);
  vr->author = 0;
  vr->first = true;
  int err = cs__varint_read(&vr->r, &vr->left);
  /* Each entry takes at least two bytes, so a count cannot claim more. */
  if (!err && vr->left > cs_mp_remaining(&vr->r) / 2) err = CS_ETRUNC;
  return err;
}

/* Returns CS_OK with an entry, CS_ENOTFOUND at the end, or an error. */
static int cs__vv_reader_next(cs__vv_reader_t *vr, cs_vv_entry_t *e) {
  if (vr->left == 0) return cs_mp_done(&vr->r) ? CS_ENOTFOUND : CS_EFORMAT;
  uint64_t delta, seq;
  int err = cs__varint_read(&vr->r, &delta);
  if (!err) err = cs__varint_read(&vr->r, &seq);
  if (err) return err;
  if (!vr->first && delta == 0) return CS_EFORMAT;
  vr->author += delta;
  if (vr->author > UINT32_MAX) return CS_EFORMAT;
  vr->first = false;
  vr->left--;
  *e = (cs_vv_entry_t){(uint32_t)vr->author, seq};
  return CS_OK;
}

int cs_vv_decode(cs_span_t bytes, cs_vv_t *out) {
  cs__vv_reader_t vr;
  cs_vv_clear(out);
  int err = cs__vv_reader_init(&vr, bytes);
  if (!err) err = cs__vv_reserve(out, (uint32_t)vr.left);
  cs_vv_entry_t e;
  while (!err && (err = cs__vv_reader_next(&vr, &e)) == CS_OK) out->items[out->count++] = e;
  return err == CS_ENOTFOUND ? CS_OK : err;
}

int cs_vv_merge_encoded(cs_vv_t *into, cs_span_t bytes) {
  cs_vv_t from = CS_VV_INIT;
  int err = cs_vv_decode(bytes, &from);
  if (!err) err = cs_vv_merge(into, &from);
  cs_vv_free(&from);
  return err;
}

int cs_vv_get_encoded(cs_span_t bytes, uint32_t author, uint64_t *seq) {
  cs__vv_reader_t vr;
  cs_vv_entry_t e;
  *seq = 0;
  int err = cs__vv_reader_init(&vr, bytes);
  while (!err && (err = cs__vv_reader_next(&vr, &e)) == CS_OK && e.author <= author)
    if (e.author == author) *seq = e.seq;
  return err == CS_ENOTFOUND ? CS_OK : err;
}

/* In memory --------------------------------------------------------------- */

typedef struct cs__mem_change_s {
  uint8_t id[CS_ID_LEN];
  uint32_t index; /* in the caller's array */
} cs__mem_change_t;

struct cs_past_mem_s {
  uint32_t count, author_count;
  cs__mem_change_t *by_id;          /* sorted by id */
  uint8_t (*authors)[CS_KEY_LEN];   /* sorted, distinct: an author's number is its index */
  cs_vv_t *pasts;                   /* per change, in the caller's order */
};

static int cs__key_cmp(const void *a, const void *b) { return memcmp(a, b, CS_KEY_LEN); }
static int cs__mem_change_cmp(const void *a, const void *b) {
  return memcmp(((const cs__mem_change_t *)a)->id, ((const cs__mem_change_t *)b)->id, CS_ID_LEN);
}

static int cs__by_lamport_id(const void *pa, const void *pb, void *ctx) {
  const cs_change_t *const *changes = ctx;
  const cs_change_t *a = changes[*(const uint32_t *)pa], *b = changes[*(const uint32_t *)pb];
  if (a->lamport != b->lamport) return a->lamport < b->lamport ? -1 : 1;
  return memcmp(a->id, b->id, CS_ID_LEN);
}

static int cs__mem_find(const cs_past_mem_t *m, const uint8_t id[CS_ID_LEN], uint32_t *index) {
  cs__mem_change_t key;
  memcpy(key.id, id, CS_ID_LEN);
  const cs__mem_change_t *hit = bsearch(&key, m->by_id, m->count, sizeof(key), cs__mem_change_cmp);
  if (!hit) return CS_ENOTFOUND;
  *index = hit->index;
  return CS_OK;
}

static int cs__mem_seq_in_past(void *ctx, const uint8_t change[CS_ID_LEN], const uint8_t author[CS_KEY_LEN],
                               uint64_t *seq) {
  const cs_past_mem_t *m = ctx;
  uint32_t index;
  *seq = 0;
  if (cs__mem_find(m, change, &index)) return CS_ENOTFOUND;
  const uint8_t(*hit)[CS_KEY_LEN] = bsearch(author, m->authors, m->author_count, CS_KEY_LEN, cs__key_cmp);
  if (hit) *seq = cs_vv_get(&m->pasts[index], (uint32_t)(hit - m->authors));
  return CS_OK;
}

void cs_past_mem_free(cs_past_mem_t *m) {
  if (!m) return;
  for (uint32_t i = 0; m->pasts && i < m->count; i++) cs_vv_free(&m->pasts[i]);
  free(m->pasts);
  free(m->authors);
  free(m->by_id);
  free(m);
}

int cs_past_mem_build(const cs_change_t *const *changes, uint32_t count, cs_past_mem_t **out) {
  cs_past_mem_t *m = calloc(1, sizeof(*m));
  uint32_t *order = malloc(((size_t)count + 1) * sizeof(*order));
  int err = CS_ENOMEM;
  *out = NULL;
  if (!m || !order) goto done;
  m->count = count;
  m->by_id = malloc(((size_t)count + 1) * sizeof(*m->by_id));
  m->authors = malloc(((size_t)count + 1) * CS_KEY_LEN);
  m->pasts = calloc((size_t)count + 1, sizeof(*m->pasts));
  if (!m->by_id || !m->authors || !m->pasts) goto done;
  for (uint32_t i = 0; i < count; i++) {
    memcpy(m->by_id[i].id, changes[i]->id, CS_ID_LEN);
    m->by_id[i].index = i;
    memcpy(m->authors[i], changes[i]->author, CS_KEY_LEN);
    order[i] = i;
  }
  qsort(m->by_id, count, sizeof(*m->by_id), cs__mem_change_cmp);
  qsort(m->authors, count, CS_KEY_LEN, cs__key_cmp);
  for (uint32_t i = 0; i < count; i++)
    if (m->author_count == 0 || memcmp(m->authors[m->author_count - 1], m->authors[i], CS_KEY_LEN) != 0)
      memmove(m->authors[m->author_count++], m->authors[i], CS_KEY_LEN);
  /* Parents come before children in (lamport, id) order when their lamport
   * clocks are honest; a parent met later adds nothing, as a missing one. */
  qsort_r(order, count, sizeof(*order), cs__by_lamport_id, (void *)changes);
  bool *done_flags = calloc((size_t)count + 1, sizeof(bool));
  if (!done_flags) goto done;
  err = CS_OK;
  for (uint32_t k = 0; k < count && !err; k++) {
    const cs_change_t *c = changes[order[k]];
    cs_vv_t *vv = &m->pasts[order[k]];
    for (uint32_t i = 0; i <= c->dep_count && !err; i++) {
      const uint8_t *parent = i < c->dep_count ? c->deps[i] : (c->has_prev ? c->prev : NULL);
      uint32_t p;
      if (parent && cs__mem_find(m, parent, &p) == CS_OK && done_flags[p]) err = cs_vv_merge(vv, &m->pasts[p]);
    }
    const uint8_t(*hit)[CS_KEY_LEN] = bsearch(c->author, m->authors, m->author_count, CS_KEY_LEN, cs__key_cmp);
    if (!err) err = cs_vv_raise(vv, (uint32_t)(hit - m->authors), c->seq);
    done_flags[order[k]] = true;
  }
  free(done_flags);
done:
  free(order);
  if (err) {
    cs_past_mem_free(m);
    return err;
  }
  *out = m;
  return CS_OK;
}

cs_past_t cs_past_mem_oracle(cs_past_mem_t *mem) {
  cs_past_t past = {cs__mem_seq_in_past, mem};
  return past;
}

/* The replica's causal-past index: one version vector per stored change
 * (core/past.h), written when the change is stored, so a rule asks "is x in
 * the past of c" with one lookup. docs/store.md draws both tables. */
#include "store/store_int.h"

#include <stdlib.h>

#include "core/past.h"

/* The number of an author key, given the first time the store meets it. */
static int cs__author_number(cs_txn_t *txn, const uint8_t author[CS_KEY_LEN], bool create, uint32_t *number) {
  MDB_val k = cs__val(author, CS_KEY_LEN), v;
  int rc = mdb_get(txn->txn, txn->store->authors, &k, &v);
  if (rc == 0) {
    if (v.mv_size != 4) return CS_ESTORE;
    const uint8_t *be = v.mv_data;
    *number = (uint32_t)be[0] << 24 | (uint32_t)be[1] << 16 | (uint32_t)be[2] << 8 | be[3];
    return CS_OK;
  }
  if (rc != MDB_NOTFOUND || !create) return cs__mdb_err(rc);
  MDB_stat st;
  if ((rc = mdb_stat(txn->txn, txn->store->authors, &st))) return cs__mdb_err(rc);
  if (st.ms_entries >= UINT32_MAX) return CS_ETOOBIG;
  *number = (uint32_t)st.ms_entries; /* authors are never deleted, so the count is the next number */
  uint8_t be[8];
  cs__put_be64(be, *number);
  v = cs__val(be + 4, 4);
  return cs__mdb_err(mdb_put(txn->txn, txn->store->authors, &k, &v, MDB_NOOVERWRITE));
}

/* A change's vector is kept under its arrival number, not its id: arrival
 * numbers only grow, so the vectors are appended and fill their pages,
 * where random ids would leave them half empty. */
static int cs__past_get(cs_txn_t *txn, const uint8_t id[CS_ID_LEN], cs_span_t *past) {
  MDB_val k = cs__val(id, CS_ID_LEN), v;
  int rc = mdb_get(txn->txn, txn->store->changes, &k, &v);
  if (rc) return cs__mdb_err(rc);
  if (v.mv_size != 8) return CS_ESTORE;
  k = v;
  rc = mdb_get(txn->txn, txn->store->pasts, &k, &v);
  if (rc) return rc == MDB_NOTFOUND ? CS_ENOTFOUND : cs__mdb_err(rc);
  *past = cs__span(v);
  return CS_OK;
}

int cs__past_put(cs_txn_t *txn, const cs_change_t *c, bool appended) {
  cs_vv_t vv = CS_VV_INIT;
  cs_buf_t out;
  uint32_t number;
  int err = CS_OK;
  cs_buf_init(&out, SIZE_MAX);
  for (uint32_t i = 0; i <= c->dep_count && !err; i++) {
    const uint8_t *parent = i < c->dep_count ? c->deps[i] : (c->has_prev ? c->prev : NULL);
    if (!parent) continue;
    cs_span_t parent_past;
    int rc = cs__past_get(txn, parent, &parent_past);
    /* A parent that is not stored (the other branch of a fork is kept before
     * its deps arrive) adds nothing. */
    if (rc == CS_ENOTFOUND) continue;
    err = rc ? rc : cs_vv_merge_encoded(&vv, parent_past);
  }
  if (!err) err = cs__author_number(txn, c->author, true, &number);
  if (!err) err = cs_vv_raise(&vv, number, c->seq);
  if (!err) {
    cs_vv_encode(&vv, &out);
    MDB_val k = cs__val(c->id, CS_ID_LEN), v;
    int rc = mdb_get(txn->txn, txn->store->changes, &k, &k);
    if (rc || k.mv_size != 8) err = rc ? cs__mdb_err(rc) : CS_ESTORE;
    v = cs__val(out.data, out.len);
    if (!err) err = out.failed ? CS_ENOMEM : cs__mdb_err(mdb_put(txn->txn, txn->store->pasts, &k, &v, appended ? MDB_APPEND : 0));
  }
  cs_vv_free(&vv);
  cs_buf_free(&out);
  return err == CS_EFORMAT || err == CS_ETRUNC ? CS_ESTORE : err;
}

int cs_store_past_seq(cs_txn_t *txn, const uint8_t change[CS_ID_LEN], const uint8_t author[CS_KEY_LEN],
                      uint64_t *seq) {
  cs_span_t past;
  uint32_t number;
  *seq = 0;
  int err = cs__past_get(txn, change, &past);
  if (err) return err;
  err = cs__author_number(txn, author, false, &number);
  if (err == CS_ENOTFOUND) return CS_OK; /* an author the store never met is in no past */
  if (!err) err = cs_vv_get_encoded(past, number, seq);
  return err == CS_EFORMAT || err == CS_ETRUNC ? CS_ESTORE : err;
}

static int cs__store_seq_in_past(void *ctx, const uint8_t change[CS_ID_LEN], const uint8_t author[CS_KEY_LEN],
                                 uint64_t *seq) {
  return cs_store_past_seq(ctx, change, author, seq);
}

cs_past_t cs_store_past(cs_txn_t *txn) {
  cs_past_t past = {cs__store_seq_in_past, txn};
  return past;
}

/* Schema 2 had no index: compute it for every stored change, parents
 * first, which (lamport, id) order within each club guarantees. */
static int cs__past_backfill_each(const uint8_t id[CS_ID_LEN], cs_span_t bytes, void *ctx) {
  cs_change_t *c = malloc(sizeof(*c));
  if (!c) return CS_ENOMEM;
  int err = cs_change_decode(bytes, c) ? CS_ESTORE : cs__past_put(ctx, c, false);
  (void)id;
  free(c);
  return err;
}

static int cs__club_backfill(const cs_club_info_t *club, void *ctx) {
  void **args = ctx;
  int *err = args[1];
  *err = cs_store_changes(args[0], club->id, cs__past_backfill_each, args[0]);
  return *err;
}

int cs__past_backfill(cs_txn_t *txn) {
  int err = CS_OK, walk;
  void *args[2] = {txn, &err};
  walk = cs_store_clubs(txn, cs__club_backfill, args);
  return err ? err : walk;
}

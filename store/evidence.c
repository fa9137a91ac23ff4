/* The fork evidence index: each author's stored changes kept off its chain
 * (a second change at a seq, and what continues that branch), under the
 * author, so a sync vector reads a forked author's evidence and nothing
 * else. docs/store.md draws the table:
 *
 * | OFFSET | SIZE | KEY                                   |
 * |--------|------|---------------------------------------|
 * | 0      | 32   | club id                               |
 * | 32     | 32   | author key                            |
 * | 64     | 8    | seq, big-endian                       |
 * | 72     | 32   | change id                             |
 *
 * The value is empty. Keys sort by author, then seq, then id. */
#include "store/store_int.h"

#include <stdlib.h>

#define CS__EVIDENCE_KEY (CS__K3 + CS_ID_LEN)

static void cs__evidence_key(uint8_t out[CS__EVIDENCE_KEY], const uint8_t club[CS_ID_LEN],
                             const uint8_t author[CS_KEY_LEN], uint64_t seq, const uint8_t id[CS_ID_LEN]) {
  cs__chain_key(out, club, author, seq);
  memcpy(out + CS__K3, id, CS_ID_LEN);
}

int cs__evidence_put(cs_txn_t *txn, const cs_change_t *c, const uint8_t club[CS_ID_LEN]) {
  uint8_t key[CS__EVIDENCE_KEY];
  cs__evidence_key(key, club, c->author, c->seq, c->id);
  MDB_val k = cs__val(key, sizeof(key)), v = cs__val("", 0);
  return cs__mdb_err(mdb_put(txn->txn, txn->store->evidence, &k, &v, 0));
}

int cs_store_fork_evidence(cs_txn_t *txn, const uint8_t club[CS_ID_LEN], const uint8_t author[CS_KEY_LEN],
                           int (*each_cb)(uint64_t seq, const uint8_t id[CS_ID_LEN], void *ctx), void *ctx) {
  MDB_cursor *cur;
  uint8_t prefix[CS__K2];
  cs__key2(prefix, club, author);
  MDB_val k = cs__val(prefix, sizeof(prefix)), v;
  int rc = mdb_cursor_open(txn->txn, txn->store->evidence, &cur);
  if (rc) return cs__mdb_err(rc);
  int err = CS_OK, cb_err = CS_OK;
  for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); rc == 0; rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
    if (k.mv_size < CS__K2 || memcmp(k.mv_data, prefix, CS__K2) != 0) break;
    if (k.mv_size != CS__EVIDENCE_KEY) {
      err = CS_ESTORE;
      break;
    }
    txn->store->evidence_reads++;
    const uint8_t *kp = k.mv_data;
    if ((cb_err = each_cb(cs__get_be64(kp + CS__K2), kp + CS__K3, ctx))) break;
  }
  mdb_cursor_close(cur);
  if (cb_err) return cb_err == CS_STOP ? CS_OK : cb_err;
  if (err) return err;
  return rc == 0 || rc == MDB_NOTFOUND ? CS_OK : cs__mdb_err(rc);
}

uint64_t cs_store_evidence_reads(const cs_store_t *store) { return store->evidence_reads; }

/* Schema 3 had no index: every change flagged EFORK in `status` that is not
 * the chain's change at its (author, seq) is evidence (frozen chain changes
 * are flagged too, and stay out). */
int cs__evidence_backfill(cs_txn_t *txn) {
  MDB_cursor *cur;
  MDB_val k, v;
  cs_change_t *c = malloc(sizeof(*c));
  if (!c) return CS_ENOMEM;
  int err = cs__mdb_err(mdb_cursor_open(txn->txn, txn->store->status, &cur));
  if (err) {
    free(c);
    return err;
  }
  int rc;
  for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0 && !err; rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
    if (k.mv_size != CS_ID_LEN || v.mv_size != 1 || *(const uint8_t *)v.mv_data != CS_EFORK) continue;
    uint8_t id[CS_ID_LEN], at[CS_ID_LEN];
    cs_span_t bytes;
    memcpy(id, k.mv_data, CS_ID_LEN);
    if ((err = cs_store_change_get(txn, id, &bytes))) break;
    if (cs_change_decode(bytes, c) != CS_OK) {
      err = CS_ESTORE;
      break;
    }
    if (!c->has_club) continue;
    int in_chain = cs_store_chain_get(txn, c->club, c->author, c->seq, at);
    if (in_chain == CS_OK && memcmp(at, id, CS_ID_LEN) == 0) continue;
    if (in_chain != CS_OK && in_chain != CS_ENOTFOUND) err = in_chain;
    else err = cs__evidence_put(txn, c, c->club);
  }
  mdb_cursor_close(cur);
  free(c);
  if (err) return err;
  return rc == 0 || rc == MDB_NOTFOUND ? CS_OK : cs__mdb_err(rc);
}

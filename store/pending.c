/* The pending table: verified changes that wait for their prev or deps,
 * bounded per author and in all, so that no key (a stranger's included,
 * since changes are parked before membership is read) can fill the store
 * through it. docs/store.md draws the tables and docs/limits.md derives
 * the bounds.
 *
 * `pending_author` indexes the pending changes by author, oldest first:
 *
 * | OFFSET | SIZE | KEY                                   |
 * |--------|------|---------------------------------------|
 * | 0      | 32   | author key                            |
 * | 32     | 8    | arrival, big-endian                   |
 *
 * The value is the change id. `pending_keys` holds each author's count and
 * bytes (two u64, big-endian), and meta's `pending_bytes` the sum over all
 * authors, so a park reads its bounds without a scan. A change's bytes are
 * what it costs on disk: its signed bytes and its index entries
 * (cs__pending_cost), so that a change naming 64 missing deps pays for its
 * 64 wait entries too. */
#include "store/store_int.h"

#include <stdlib.h>

#define CS__PENDING_AUTHOR_KEY (CS_KEY_LEN + 8)

static int cs__put(cs_txn_t *txn, MDB_dbi dbi, const void *k, size_t kn, const void *v, size_t vn) {
  MDB_val key = cs__val(k, kn), val = cs__val(v, vn);
  return cs__mdb_err(mdb_put(txn->txn, dbi, &key, &val, 0));
}

static int cs__del(cs_txn_t *txn, MDB_dbi dbi, const void *k, size_t kn) {
  MDB_val key = cs__val(k, kn);
  int rc = mdb_del(txn->txn, dbi, &key, NULL);
  return rc == MDB_NOTFOUND ? CS_OK : cs__mdb_err(rc);
}

static uint64_t cs__pending_bytes(cs_txn_t *txn) {
  MDB_val k = cs__val("pending_bytes", 13), v;
  if (mdb_get(txn->txn, txn->store->meta, &k, &v) == 0 && v.mv_size == 8) return cs__get_be64(v.mv_data);
  return 0;
}

static int cs__pending_bytes_set(cs_txn_t *txn, uint64_t bytes) {
  uint8_t be[8];
  cs__put_be64(be, bytes);
  MDB_val k = cs__val("pending_bytes", 13), v = cs__val(be, 8);
  return cs__mdb_err(mdb_put(txn->txn, txn->store->meta, &k, &v, 0));
}

static void cs__pending_key_get(cs_txn_t *txn, const uint8_t author[CS_KEY_LEN], cs_store_pending_t *out) {
  MDB_val k = cs__val(author, CS_KEY_LEN), v;
  memset(out, 0, sizeof(*out));
  if (mdb_get(txn->txn, txn->store->pending_keys, &k, &v) == 0 && v.mv_size == 16) {
    out->changes = cs__get_be64(v.mv_data);
    out->bytes = cs__get_be64((const uint8_t *)v.mv_data + 8);
  }
}

/* Adds (or with `add` false, takes away) one change of `bytes` to its
 * author's totals and to the store's. */
static int cs__pending_account(cs_txn_t *txn, const uint8_t author[CS_KEY_LEN], uint64_t bytes, bool add) {
  cs_store_pending_t key;
  cs__pending_key_get(txn, author, &key);
  uint64_t all = cs__pending_bytes(txn);
  if (add) {
    key.changes++;
    key.bytes += bytes;
    all += bytes;
  } else {
    /* A total below what is taken away is a damaged store: clamp at zero
     * rather than wrap, so the bounds stay meaningful. */
    key.changes = key.changes > 0 ? key.changes - 1 : 0;
    key.bytes = key.bytes > bytes ? key.bytes - bytes : 0;
    all = all > bytes ? all - bytes : 0;
  }
  MDB_val k = cs__val(author, CS_KEY_LEN);
  int rc;
  if (key.changes == 0) {
    rc = mdb_del(txn->txn, txn->store->pending_keys, &k, NULL);
    if (rc == MDB_NOTFOUND) rc = 0;
  } else {
    uint8_t val[16];
    cs__put_be64(val, key.changes);
    cs__put_be64(val + 8, key.bytes);
    MDB_val v = cs__val(val, sizeof(val));
    rc = mdb_put(txn->txn, txn->store->pending_keys, &k, &v, 0);
  }
  if (rc) return cs__mdb_err(rc);
  return cs__pending_bytes_set(txn, all);
}

static void cs__pending_author_key(uint8_t out[CS__PENDING_AUTHOR_KEY], const uint8_t author[CS_KEY_LEN],
                                   const uint8_t arrival[8]) {
  memcpy(out, author, CS_KEY_LEN);
  memcpy(out + CS_KEY_LEN, arrival, 8);
}

/* What one pending change costs: its signed bytes, and an entry in
 * `pending`, `pending_age`, `pending_author` and `pending_wait` per parent.
 * A function of the change alone, so parking and dropping agree. */
static uint64_t cs__pending_cost(const cs_change_t *c) {
  uint64_t entries = 3 + c->dep_count + (c->has_prev ? 1 : 0);
  return c->signed_bytes.len + entries * CS_PENDING_ENTRY_BYTES;
}

/* Indexes one pending change under its author and counts it. */
static int cs__pending_index(cs_txn_t *txn, const cs_change_t *c, const uint8_t arrival[8]) {
  uint8_t key[CS__PENDING_AUTHOR_KEY];
  cs__pending_author_key(key, c->author, arrival);
  MDB_val k = cs__val(key, sizeof(key)), v = cs__val(c->id, CS_ID_LEN);
  int err = cs__mdb_err(mdb_put(txn->txn, txn->store->pending_author, &k, &v, 0));
  if (!err) err = cs__pending_account(txn, c->author, cs__pending_cost(c), true);
  return err;
}

static int cs__pending_counter(cs_txn_t *txn, uint64_t *next) {
  MDB_val k = cs__val("pending_seq", 11), v;
  uint64_t n = 0;
  if (mdb_get(txn->txn, txn->store->meta, &k, &v) == 0 && v.mv_size == 8) n = cs__get_be64(v.mv_data);
  uint8_t be[8];
  cs__put_be64(be, n + 1);
  *next = n;
  return cs__put(txn, txn->store->meta, "pending_seq", 11, be, 8);
}

int cs__pending_drop(cs_txn_t *txn, const uint8_t id[CS_ID_LEN]) {
  MDB_val k = cs__val(id, CS_ID_LEN), v;
  int rc = mdb_get(txn->txn, txn->store->pending, &k, &v);
  if (rc == MDB_NOTFOUND) return CS_OK;
  if (rc) return cs__mdb_err(rc);
  if (v.mv_size < 8) return CS_ESTORE;
  uint8_t age[8];
  memcpy(age, v.mv_data, 8);
  cs_span_t bytes = {(const uint8_t *)v.mv_data + 8, v.mv_size - 8};
  cs_change_t *c = malloc(sizeof(*c));
  if (!c) return CS_ENOMEM;
  int err = cs_change_decode(bytes, c);
  if (!err) {
    /* Drop the wait entries this change left under each parent. */
    for (uint32_t i = 0; i <= c->dep_count && !err; i++) {
      const uint8_t *parent = i < c->dep_count ? c->deps[i] : (c->has_prev ? c->prev : NULL);
      if (!parent) continue;
      MDB_val pk = cs__val(parent, CS_ID_LEN), pv = cs__val(id, CS_ID_LEN);
      rc = mdb_del(txn->txn, txn->store->pending_wait, &pk, &pv);
      if (rc && rc != MDB_NOTFOUND) err = cs__mdb_err(rc);
    }
  }
  if (!err) {
    uint8_t key[CS__PENDING_AUTHOR_KEY];
    cs__pending_author_key(key, c->author, age);
    err = cs__del(txn, txn->store->pending_author, key, sizeof(key));
  }
  if (!err) err = cs__pending_account(txn, c->author, cs__pending_cost(c), false);
  free(c);
  if (!err) err = cs__del(txn, txn->store->pending_age, age, 8);
  if (!err) err = cs__del(txn, txn->store->pending, id, CS_ID_LEN);
  return err;
}

/* The first id of a table keyed oldest first, under `prefix` if given;
 * CS_ENOTFOUND when there is none. */
static int cs__pending_first(cs_txn_t *txn, MDB_dbi dbi, const uint8_t *prefix, size_t prefix_len,
                             uint8_t id[CS_ID_LEN]) {
  MDB_cursor *cur;
  int rc = mdb_cursor_open(txn->txn, dbi, &cur);
  if (rc) return cs__mdb_err(rc);
  MDB_val k = cs__val(prefix, prefix_len), v;
  rc = mdb_cursor_get(cur, &k, &v, prefix ? MDB_SET_RANGE : MDB_FIRST);
  int err = cs__mdb_err(rc);
  if (!err && prefix && (k.mv_size < prefix_len || memcmp(k.mv_data, prefix, prefix_len) != 0)) err = CS_ENOTFOUND;
  if (!err && v.mv_size != CS_ID_LEN) err = CS_ESTORE;
  if (!err) memcpy(id, v.mv_data, CS_ID_LEN);
  mdb_cursor_close(cur);
  return err;
}

int cs__pending_park(cs_txn_t *txn, const cs_change_t *c, const uint8_t (*missing)[CS_ID_LEN],
                     uint32_t missing_count) {
  uint64_t len = cs__pending_cost(c);
  uint8_t victim[CS_ID_LEN];
  int err;
  /* Over its author's bound, the author's own oldest goes: a key that
   * floods evicts only its own changes. */
  for (;;) {
    cs_store_pending_t key;
    cs__pending_key_get(txn, c->author, &key);
    if (key.changes < CS_PENDING_KEY_MAX && key.bytes + len <= CS_PENDING_KEY_BYTES) break;
    err = cs__pending_first(txn, txn->store->pending_author, c->author, CS_KEY_LEN, victim);
    if (err == CS_ENOTFOUND) break; /* totals without entries: nothing left to evict */
    if (err || (err = cs__pending_drop(txn, victim))) return err;
  }
  /* Over the store's bound, the oldest of all goes: many keys together
   * still cannot hold more. */
  for (;;) {
    MDB_stat st;
    int rc = mdb_stat(txn->txn, txn->store->pending, &st);
    if (rc) return cs__mdb_err(rc);
    if (st.ms_entries < CS_PENDING_MAX && cs__pending_bytes(txn) + len <= CS_PENDING_BYTES) break;
    err = cs__pending_first(txn, txn->store->pending_age, NULL, 0, victim);
    if (err == CS_ENOTFOUND) break;
    if (err || (err = cs__pending_drop(txn, victim))) return err;
  }
  uint64_t arrival;
  if ((err = cs__pending_counter(txn, &arrival))) return err;
  uint8_t be[8];
  cs__put_be64(be, arrival);
  size_t vlen = 8 + c->signed_bytes.len;
  uint8_t *val = malloc(vlen);
  if (!val) return CS_ENOMEM;
  memcpy(val, be, 8);
  memcpy(val + 8, c->signed_bytes.ptr, c->signed_bytes.len);
  err = cs__put(txn, txn->store->pending, c->id, CS_ID_LEN, val, vlen);
  free(val);
  if (!err) err = cs__put(txn, txn->store->pending_age, be, 8, c->id, CS_ID_LEN);
  if (!err) err = cs__pending_index(txn, c, be);
  for (uint32_t i = 0; i < missing_count && !err; i++)
    err = cs__put(txn, txn->store->pending_wait, missing[i], CS_ID_LEN, c->id, CS_ID_LEN);
  return err;
}

int cs_store_pending_usage(cs_txn_t *txn, const uint8_t *author, cs_store_pending_t *out) {
  if (author) {
    cs__pending_key_get(txn, author, out);
    return CS_OK;
  }
  MDB_stat st;
  int rc = mdb_stat(txn->txn, txn->store->pending, &st);
  if (rc) return cs__mdb_err(rc);
  out->changes = st.ms_entries;
  out->bytes = cs__pending_bytes(txn);
  return CS_OK;
}

/* Schema 4 had neither the index nor the totals: both are computed from
 * the pending table. Then the bounds are applied once, since a store of
 * schema 4 may hold more than they allow. */
int cs__pending_backfill(cs_txn_t *txn) {
  MDB_cursor *cur;
  MDB_val k, v;
  cs_change_t *c = malloc(sizeof(*c));
  if (!c) return CS_ENOMEM;
  int err = cs__mdb_err(mdb_drop(txn->txn, txn->store->pending_author, 0));
  if (!err) err = cs__mdb_err(mdb_drop(txn->txn, txn->store->pending_keys, 0));
  if (!err) err = cs__pending_bytes_set(txn, 0);
  if (!err) err = cs__mdb_err(mdb_cursor_open(txn->txn, txn->store->pending, &cur));
  if (err) {
    free(c);
    return err;
  }
  int rc;
  for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0 && !err; rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
    if (k.mv_size != CS_ID_LEN || v.mv_size < 8) {
      err = CS_ESTORE;
      break;
    }
    cs_span_t bytes = {(const uint8_t *)v.mv_data + 8, v.mv_size - 8};
    if (cs_change_decode(bytes, c) != CS_OK) {
      err = CS_ESTORE;
      break;
    }
    uint8_t arrival[8];
    memcpy(arrival, v.mv_data, 8);
    err = cs__pending_index(txn, c, arrival);
  }
  mdb_cursor_close(cur);
  free(c);
  if (err) return err;
  if (rc != 0 && rc != MDB_NOTFOUND) return cs__mdb_err(rc);
  return cs__pending_trim(txn);
}

/* Evicts, oldest first, what exceeds the bounds: each author's, then the
 * store's. */
int cs__pending_trim(cs_txn_t *txn) {
  MDB_cursor *cur;
  MDB_val k, v;
  int err = cs__mdb_err(mdb_cursor_open(txn->txn, txn->store->pending_keys, &cur));
  if (err) return err;
  /* Authors over their bound, collected first: dropping edits the table. */
  uint8_t(*over)[CS_KEY_LEN] = NULL;
  size_t count = 0, cap = 0;
  int rc;
  for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0; rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
    if (k.mv_size != CS_KEY_LEN || v.mv_size != 16) continue;
    if (cs__get_be64(v.mv_data) <= CS_PENDING_KEY_MAX &&
        cs__get_be64((const uint8_t *)v.mv_data + 8) <= CS_PENDING_KEY_BYTES)
      continue;
    if (count == cap) {
      size_t n = cap ? 2 * cap : 16;
      void *grown = realloc(over, n * sizeof(*over));
      if (!grown) {
        err = CS_ENOMEM;
        break;
      }
      over = grown;
      cap = n;
    }
    memcpy(over[count++], k.mv_data, CS_KEY_LEN);
  }
  mdb_cursor_close(cur);
  uint8_t victim[CS_ID_LEN];
  for (size_t i = 0; i < count && !err; i++) {
    for (;;) {
      cs_store_pending_t key;
      cs__pending_key_get(txn, over[i], &key);
      if (key.changes <= CS_PENDING_KEY_MAX && key.bytes <= CS_PENDING_KEY_BYTES) break;
      err = cs__pending_first(txn, txn->store->pending_author, over[i], CS_KEY_LEN, victim);
      if (err == CS_ENOTFOUND) {
        err = CS_OK; /* totals without entries: nothing left to evict */
        break;
      }
      if (err || (err = cs__pending_drop(txn, victim))) break;
    }
  }
  free(over);
  while (!err) {
    MDB_stat st;
    if ((rc = mdb_stat(txn->txn, txn->store->pending, &st))) return cs__mdb_err(rc);
    if (st.ms_entries <= CS_PENDING_MAX && cs__pending_bytes(txn) <= CS_PENDING_BYTES) break;
    err = cs__pending_first(txn, txn->store->pending_age, NULL, 0, victim);
    if (err == CS_ENOTFOUND) return CS_OK;
    if (!err) err = cs__pending_drop(txn, victim);
  }
  return err;
}

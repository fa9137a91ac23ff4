/* LMDB environment, transactions and read paths of the replica. */
#include "store/store_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <sodium.h>

/* 3: the causal-past index (store/past.c). A store of schema 2 is brought
 * to 3 when opened: the index is computed and every club re-derived.
 * 4: the fork evidence index (store/evidence.c), computed when a store of
 * schema 2 or 3 is opened.
 * 5: the pending changes indexed by author, with their counts and bytes
 * (store/pending.c), computed when a store of schema 2 to 4 is opened. */
#define CS_SCHEMA_VERSION 5

int cs__mdb_err(int rc) {
  switch (rc) {
  case MDB_SUCCESS: return CS_OK;
  case MDB_NOTFOUND: return CS_ENOTFOUND;
  case MDB_MAP_FULL: case ENOSPC: case EDQUOT: return CS_ENOSPC;
  case ENOMEM: return CS_ENOMEM;
  case EIO: return CS_EIO;
  case EACCES: case ENOENT: case ENOTDIR: return CS_EIO;
  default: return CS_ESTORE;
  }
}

static int cs__rederive_club(const cs_club_info_t *club, void *ctx) {
  return cs_store_rebuild(ctx, club->id);
}

/* Schema 2 to 3: index every change's causal past, then re-derive each
 * club, so its state follows the rules that read that past. Schema 3 to 4:
 * index the fork evidence by author (the state does not change). Schema 4
 * to 5: index the pending changes by author and count them, then apply
 * the pending bounds. */
static int cs__schema_upgrade(cs_store_t *s, MDB_txn *mdb_txn, uint8_t from) {
  cs_txn_t txn = {.store = s, .txn = mdb_txn, .write = true};
  int err = from < 3 ? cs__past_backfill(&txn) : CS_OK;
  if (!err && from < 3) err = cs_store_clubs(&txn, cs__rederive_club, &txn);
  if (!err && from < 4) err = cs__evidence_backfill(&txn);
  if (!err) err = cs__pending_backfill(&txn);
  uint8_t version = CS_SCHEMA_VERSION;
  MDB_val k = cs__val("schema", 6), v = cs__val(&version, 1);
  if (!err) err = cs__mdb_err(mdb_put(mdb_txn, s->meta, &k, &v, 0));
  return err;
}

int cs_store_open(const char *dir, cs_store_t **out) {
  cs_store_t *s = calloc(1, sizeof(*s));
  if (!s) return CS_ENOMEM;
  MDB_txn *txn = NULL;
  int rc;
  if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
    rc = errno;
    goto fail;
  }
  if ((rc = mdb_env_create(&s->env))) goto fail;
  if ((rc = mdb_env_set_maxdbs(s->env, 32))) goto fail;
  /* CLUBSYNC_STORE_MAP_MIB shrinks the map, so tests can make the store
   * "full" without filling a disk. */
  size_t map_size = CS_STORE_MAP_SIZE;
  const char *map_mib = getenv("CLUBSYNC_STORE_MAP_MIB");
  if (map_mib && atol(map_mib) > 0) map_size = (size_t)atol(map_mib) << 20;
  if ((rc = mdb_env_set_mapsize(s->env, map_size))) goto fail;
  /* Readers of the CLI and a running `serve` share one environment; NOTLS
   * lets a read transaction be used from whichever thread needs it. */
  if ((rc = mdb_env_open(s->env, dir, MDB_NOTLS, 0600))) goto fail;
  if ((rc = mdb_txn_begin(s->env, NULL, 0, &txn))) goto fail;
  struct {
    const char *name;
    MDB_dbi *dbi;
    unsigned flags;
  } dbs[] = {
      {"meta", &s->meta, 0},         {"changes", &s->changes, 0},
      {"status", &s->status, 0},     {"chain", &s->chain, 0},
      {"order", &s->order, 0},       {"heads", &s->heads, 0},
      {"pending", &s->pending, 0},   {"pending_wait", &s->pending_wait, MDB_DUPSORT},
      {"pending_age", &s->pending_age, 0}, {"objects", &s->objects, 0},
      {"clubs", &s->clubs, 0},       {"members", &s->members, 0},
      {"memberops", &s->memberops, 0}, {"forks", &s->forks, 0},
      {"arrivals", &s->arrivals, 0}, {"authors", &s->authors, 0},
      {"pasts", &s->pasts, 0},       {"evidence", &s->evidence, 0},
      {"pending_author", &s->pending_author, 0}, {"pending_keys", &s->pending_keys, 0},
  };
  for (size_t i = 0; i < sizeof(dbs) / sizeof(dbs[0]); i++)
    if ((rc = mdb_dbi_open(txn, dbs[i].name, dbs[i].flags | MDB_CREATE, dbs[i].dbi))) goto fail;
  MDB_val k = cs__val("schema", 6), v;
  rc = mdb_get(txn, s->meta, &k, &v);
  if (rc == MDB_NOTFOUND) {
    uint8_t version = CS_SCHEMA_VERSION;
    v = cs__val(&version, 1);
    if ((rc = mdb_put(txn, s->meta, &k, &v, 0))) goto fail;
  } else if (rc) {
    goto fail;
  } else if (v.mv_size == 1 && *(uint8_t *)v.mv_data >= 2 &&
             *(uint8_t *)v.mv_data < CS_SCHEMA_VERSION) {
    if ((rc = cs__schema_upgrade(s, txn, *(uint8_t *)v.mv_data))) {
      mdb_txn_abort(txn);
      mdb_env_close(s->env);
      free(s);
      return rc;
    }
  } else if (v.mv_size != 1 || *(uint8_t *)v.mv_data != CS_SCHEMA_VERSION) {
    mdb_txn_abort(txn);
    mdb_env_close(s->env);
    free(s);
    return CS_EVERSION;
  }
  if ((rc = mdb_txn_commit(txn))) {
    txn = NULL;
    goto fail;
  }
  *out = s;
  return CS_OK;
fail:
  if (txn) mdb_txn_abort(txn);
  if (s->env) mdb_env_close(s->env);
  free(s);
  return cs__mdb_err(rc);
}

void cs_store_close(cs_store_t *store) {
  if (!store) return;
  mdb_env_close(store->env);
  free(store);
}

int cs_store_begin(cs_store_t *store, bool write, cs_txn_t *txn) {
  memset(txn, 0, sizeof(*txn));
  txn->store = store;
  txn->write = write;
  return cs__mdb_err(mdb_txn_begin(store->env, NULL, write ? 0 : MDB_RDONLY, &txn->txn));
}

int cs_store_commit(cs_txn_t *txn) {
  int err = CS_OK;
  if (txn->write && txn->rebuild_needed) {
    err = cs_store_rebuild(txn, txn->rebuild_club);
    if (err) {
      cs_store_abort(txn);
      return err;
    }
  }
  err = cs__mdb_err(mdb_txn_commit(txn->txn));
  txn->txn = NULL;
  return err;
}

void cs_store_abort(cs_txn_t *txn) {
  if (txn->txn) mdb_txn_abort(txn->txn);
  txn->txn = NULL;
}

int cs_store_copy(cs_store_t *store, int fd) {
  return cs__mdb_err(mdb_env_copyfd2(store->env, fd, MDB_CP_COMPACT));
}

uint64_t cs_store_last_txnid(cs_store_t *store) {
  MDB_envinfo info;
  if (mdb_env_info(store->env, &info)) return 0;
  return (uint64_t)info.me_last_txnid;
}

/* Club record: [name, software, founder, change count]. */
static int cs__club_decode(MDB_val key, MDB_val val, cs_club_info_t *out) {
  cs_mp_reader_t r = cs_mp_reader(cs__span(val));
  uint32_t n;
  cs_span_t name, software;
  int err;
  if (key.mv_size != CS_ID_LEN) return CS_EFORMAT;
  memcpy(out->id, key.mv_data, CS_ID_LEN);
  if ((err = cs_mp_read_array(&r, &n))) return err;
  if (n != 4) return CS_EFORMAT;
  if ((err = cs_mp_read_str(&r, &name))) return err;
  if ((err = cs_mp_read_str(&r, &software))) return err;
  if ((err = cs_mp_read_bin32(&r, out->founder))) return err;
  if ((err = cs_mp_read_uint(&r, &out->change_count))) return err;
  if (name.len > CS_NAME_MAX || software.len > CS_NAME_MAX) return CS_EFORMAT;
  memcpy(out->name, name.ptr, name.len);
  out->name[name.len] = '\0';
  memcpy(out->software, software.ptr, software.len);
  out->software[software.len] = '\0';
  return CS_OK;
}

/* The end of every walk (store.h, "Walks"): a callback's non-zero stopped
 * it and comes back as is, CS_STOP as CS_OK; the store's own failure on the
 * way (a record that does not decode, a cursor error) is returned as the
 * store's; a cursor past the end is success. */
static int cs__walk_end(MDB_cursor *cur, int rc, int store_err, int cb_err) {
  mdb_cursor_close(cur);
  if (cb_err) return cb_err == CS_STOP ? CS_OK : cb_err;
  if (store_err) return store_err;
  return rc == 0 || rc == MDB_NOTFOUND ? CS_OK : cs__mdb_err(rc);
}

int cs_store_clubs(cs_txn_t *txn, int (*each_cb)(const cs_club_info_t *club, void *ctx), void *ctx) {
  MDB_cursor *cur;
  MDB_val k, v;
  int rc = mdb_cursor_open(txn->txn, txn->store->clubs, &cur);
  if (rc) return cs__mdb_err(rc);
  int err = CS_OK, cb_err = CS_OK;
  for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0; rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
    cs_club_info_t info;
    if ((err = cs__club_decode(k, v, &info))) break;
    if ((cb_err = each_cb(&info, ctx))) break;
  }
  return cs__walk_end(cur, rc, err, cb_err);
}

int cs_store_club_get(cs_txn_t *txn, const uint8_t club[CS_ID_LEN], cs_club_info_t *out) {
  MDB_val k = cs__val(club, CS_ID_LEN), v;
  int rc = mdb_get(txn->txn, txn->store->clubs, &k, &v);
  if (rc) return rc == MDB_NOTFOUND ? CS_ECLUB : cs__mdb_err(rc);
  return cs__club_decode(k, v, out);
}

int cs_store_change_get(cs_txn_t *txn, const uint8_t id[CS_ID_LEN], cs_span_t *signed_bytes) {
  MDB_val k = cs__val(id, CS_ID_LEN), v;
  int rc = mdb_get(txn->txn, txn->store->changes, &k, &v);
  if (rc) return cs__mdb_err(rc);
  if (v.mv_size != 8) return CS_ESTORE;
  k = v;
  if ((rc = mdb_get(txn->txn, txn->store->arrivals, &k, &v))) return rc == MDB_NOTFOUND ? CS_ESTORE : cs__mdb_err(rc);
  if (v.mv_size <= CS_ID_LEN || memcmp(v.mv_data, id, CS_ID_LEN) != 0) return CS_ESTORE;
  signed_bytes->ptr = (const uint8_t *)v.mv_data + CS_ID_LEN;
  signed_bytes->len = v.mv_size - CS_ID_LEN;
  return CS_OK;
}

int cs_store_change_status(cs_txn_t *txn, const uint8_t id[CS_ID_LEN]) {
  MDB_val k = cs__val(id, CS_ID_LEN), v;
  if (mdb_get(txn->txn, txn->store->status, &k, &v) != 0 || v.mv_size != 1) return CS_OK;
  return *(const uint8_t *)v.mv_data;
}

int cs_store_changes(cs_txn_t *txn, const uint8_t club[CS_ID_LEN],
                     int (*each_cb)(const uint8_t id[CS_ID_LEN], cs_span_t signed_bytes, void *ctx), void *ctx) {
  return cs_store_changes_from(txn, club, 0, each_cb, ctx);
}

int cs_store_changes_from(cs_txn_t *txn, const uint8_t club[CS_ID_LEN], uint64_t lamport,
                          int (*each_cb)(const uint8_t id[CS_ID_LEN], cs_span_t signed_bytes, void *ctx), void *ctx) {
  MDB_cursor *cur;
  uint8_t start[CS_ID_LEN + 8] = {0};
  memcpy(start, club, CS_ID_LEN);
  cs__put_be64(start + CS_ID_LEN, lamport);
  MDB_val k = cs__val(start, sizeof(start)), v;
  int rc = mdb_cursor_open(txn->txn, txn->store->order, &cur);
  if (rc) return cs__mdb_err(rc);
  int err = CS_OK, cb_err = CS_OK;
  for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); rc == 0; rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
    if (k.mv_size != CS_ID_LEN + 8 + CS_ID_LEN || memcmp(k.mv_data, club, CS_ID_LEN) != 0) break;
    const uint8_t *id = (const uint8_t *)k.mv_data + CS_ID_LEN + 8;
    cs_span_t bytes;
    /* The order index names a change the store lacks: the store is broken. */
    if ((err = cs_store_change_get(txn, id, &bytes))) {
      if (err == CS_ENOTFOUND) err = CS_ESTORE;
      break;
    }
    if ((cb_err = each_cb(id, bytes, ctx))) break;
  }
  return cs__walk_end(cur, rc, err, cb_err);
}

int cs_store_chain_get(cs_txn_t *txn, const uint8_t club[CS_ID_LEN], const uint8_t author[CS_KEY_LEN],
                       uint64_t seq, uint8_t id_out[CS_ID_LEN]) {
  uint8_t key[CS__K3];
  cs__chain_key(key, club, author, seq);
  MDB_val k = cs__val(key, sizeof(key)), v;
  int rc = mdb_get(txn->txn, txn->store->chain, &k, &v);
  if (rc) return cs__mdb_err(rc);
  if (v.mv_size != CS_ID_LEN) return CS_ESTORE;
  memcpy(id_out, v.mv_data, CS_ID_LEN);
  return CS_OK;
}

uint64_t cs_store_author_seq(cs_txn_t *txn, const uint8_t club[CS_ID_LEN], const uint8_t author[CS_KEY_LEN],
                             uint8_t *id_out) {
  MDB_cursor *cur;
  uint8_t key[CS__K3];
  cs__chain_key(key, club, author, UINT64_MAX);
  MDB_val k = cs__val(key, sizeof(key)), v;
  uint64_t seq = 0;
  if (mdb_cursor_open(txn->txn, txn->store->chain, &cur)) return 0;
  int rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
  rc = rc == 0 ? mdb_cursor_get(cur, &k, &v, MDB_PREV) : mdb_cursor_get(cur, &k, &v, MDB_LAST);
  if (rc == 0 && k.mv_size == CS__K3 && memcmp(k.mv_data, key, CS__K2) == 0) {
    seq = cs__get_be64((const uint8_t *)k.mv_data + CS__K2);
    if (id_out) memcpy(id_out, v.mv_data, CS_ID_LEN);
  }
  mdb_cursor_close(cur);
  return seq;
}

int cs_store_vector(cs_txn_t *txn, const uint8_t club[CS_ID_LEN],
                    int (*each_cb)(const uint8_t author[CS_KEY_LEN], uint64_t seq, const uint8_t id[CS_ID_LEN],
                                   void *ctx),
                    void *ctx) {
  MDB_cursor *cur;
  uint8_t key[CS__K3] = {0};
  memcpy(key, club, CS_ID_LEN);
  MDB_val k = cs__val(key, sizeof(key)), v;
  int rc = mdb_cursor_open(txn->txn, txn->store->chain, &cur);
  if (rc) return cs__mdb_err(rc);
  int cb_err = CS_OK;
  /* Jump from author to author: seek past the current author's last seq. */
  rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
  while (rc == 0 && k.mv_size == CS__K3 && memcmp(k.mv_data, club, CS_ID_LEN) == 0) {
    uint8_t author[CS_KEY_LEN], id[CS_ID_LEN];
    memcpy(author, (const uint8_t *)k.mv_data + CS_ID_LEN, CS_KEY_LEN);
    uint64_t seq = cs_store_author_seq(txn, club, author, id);
    if ((cb_err = each_cb(author, seq, id, ctx))) break;
    cs__chain_key(key, club, author, UINT64_MAX);
    k = cs__val(key, sizeof(key));
    rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
    if (rc == 0 && memcmp(k.mv_data, key, CS__K3) == 0) rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
  }
  return cs__walk_end(cur, rc, CS_OK, cb_err);
}

int cs_store_object_get(cs_txn_t *txn, const uint8_t club[CS_ID_LEN], const uint8_t obj[CS_ID_LEN],
                        cs_object_t *out) {
  uint8_t key[CS__K2];
  cs__key2(key, club, obj);
  MDB_val k = cs__val(key, sizeof(key)), v;
  int rc = mdb_get(txn->txn, txn->store->objects, &k, &v);
  if (rc) return cs__mdb_err(rc);
  return cs_object_decode(cs__span(v), out);
}

int cs_store_objects(cs_txn_t *txn, const uint8_t club[CS_ID_LEN], uint64_t type,
                     int (*each_cb)(const uint8_t id[CS_ID_LEN], const cs_object_t *obj, void *ctx), void *ctx) {
  MDB_cursor *cur;
  MDB_val k = cs__val(club, CS_ID_LEN), v;
  int rc = mdb_cursor_open(txn->txn, txn->store->objects, &cur);
  if (rc) return cs__mdb_err(rc);
  int err = CS_OK, cb_err = CS_OK;
  for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); rc == 0; rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
    if (k.mv_size != CS__K2 || memcmp(k.mv_data, club, CS_ID_LEN) != 0) break;
    /* The type is the record's first item: peek before decoding the rest. */
    cs_mp_reader_t r = cs_mp_reader(cs__span(v));
    uint32_t n;
    uint64_t t;
    if (cs_mp_read_array(&r, &n) || cs_mp_read_uint(&r, &t)) {
      err = CS_ESTORE;
      break;
    }
    if (type && t != type) continue;
    cs_object_t obj;
    if ((err = cs_object_decode(cs__span(v), &obj))) break;
    cb_err = each_cb((const uint8_t *)k.mv_data + CS_ID_LEN, &obj, ctx);
    cs_object_free(&obj);
    if (cb_err) break;
  }
  return cs__walk_end(cur, rc, err, cb_err);
}

int cs_store_member_get(cs_txn_t *txn, const uint8_t club[CS_ID_LEN], const uint8_t key[CS_KEY_LEN],
                        cs_member_t *out) {
  uint8_t kb[CS__K2];
  cs__key2(kb, club, key);
  MDB_val k = cs__val(kb, sizeof(kb)), v;
  int rc = mdb_get(txn->txn, txn->store->members, &k, &v);
  if (rc) return cs__mdb_err(rc);
  return cs_member_decode(cs__span(v), key, out);
}

int cs_store_members(cs_txn_t *txn, const uint8_t club[CS_ID_LEN],
                     int (*each_cb)(const cs_member_t *member, void *ctx), void *ctx) {
  MDB_cursor *cur;
  MDB_val k = cs__val(club, CS_ID_LEN), v;
  cs_member_t *m = malloc(sizeof(*m));
  if (!m) return CS_ENOMEM;
  int rc = mdb_cursor_open(txn->txn, txn->store->members, &cur);
  if (rc) {
    free(m);
    return cs__mdb_err(rc);
  }
  int err = CS_OK, cb_err = CS_OK;
  for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); rc == 0; rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
    if (k.mv_size != CS__K2 || memcmp(k.mv_data, club, CS_ID_LEN) != 0) break;
    if ((err = cs_member_decode(cs__span(v), (const uint8_t *)k.mv_data + CS_ID_LEN, m))) break;
    if ((cb_err = each_cb(m, ctx))) break;
  }
  free(m);
  return cs__walk_end(cur, rc, err, cb_err);
}

static int cs__hex_prefix_bytes(const char *hex, uint8_t *out, size_t *nbytes, bool *odd) {
  size_t len = strlen(hex);
  if (len < 6 || len > 64) return CS_EINVAL;
  char padded[65] = {0};
  memcpy(padded, hex, len);
  *odd = len % 2 == 1;
  if (*odd) padded[len++] = '0';
  uint8_t full[32] = {0};
  char tmp[65];
  memset(tmp, '0', 64);
  tmp[64] = '\0';
  memcpy(tmp, padded, len);
  if (cs_unhex32(tmp, full)) return CS_EINVAL;
  *nbytes = len / 2;
  memcpy(out, full, *nbytes);
  return CS_OK;
}

int cs_store_resolve_prefix(cs_txn_t *txn, cs_lookup_kind_t kind, const uint8_t *club, const char *hex_prefix,
                            uint8_t out[CS_ID_LEN]) {
  uint8_t prefix[32];
  size_t nbytes;
  bool odd;
  int err = cs__hex_prefix_bytes(hex_prefix, prefix, &nbytes, &odd);
  if (err) return err;
  MDB_dbi dbi;
  size_t skip = 0;
  switch (kind) {
  case CS_LOOKUP_CLUB: dbi = txn->store->clubs; break;
  case CS_LOOKUP_CHANGE: dbi = txn->store->changes; break;
  case CS_LOOKUP_OBJECT: dbi = txn->store->objects; skip = CS_ID_LEN; break;
  case CS_LOOKUP_MEMBER: dbi = txn->store->members; skip = CS_ID_LEN; break;
  default: return CS_EINVAL;
  }
  if (skip && !club) return CS_EINVAL;
  uint8_t seek[CS__K2] = {0};
  if (skip) memcpy(seek, club, CS_ID_LEN);
  memcpy(seek + skip, prefix, nbytes);
  MDB_cursor *cur;
  MDB_val k = cs__val(seek, skip + CS_ID_LEN), v;
  int rc = mdb_cursor_open(txn->txn, dbi, &cur);
  if (rc) return cs__mdb_err(rc);
  int found = 0;
  for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); rc == 0 && found < 2;
       rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
    const uint8_t *kp = k.mv_data;
    if (k.mv_size != skip + CS_ID_LEN || (skip && memcmp(kp, club, CS_ID_LEN) != 0)) break;
    const uint8_t *id = kp + skip;
    size_t whole = odd ? nbytes - 1 : nbytes;
    if (memcmp(id, prefix, whole) != 0) break;
    if (odd && (id[whole] >> 4) != (prefix[whole] >> 4)) break;
    if (found == 0) memcpy(out, id, CS_ID_LEN);
    found++;
  }
  mdb_cursor_close(cur);
  if (found == 0) return CS_ENOTFOUND;
  return found == 1 ? CS_OK : CS_EAMBIGUOUS;
}

static void cs__hash_range(cs_txn_t *txn, MDB_dbi dbi, const uint8_t *prefix, size_t prefix_len,
                           crypto_generichash_state *st, int *err) {
  MDB_cursor *cur;
  MDB_val k = cs__val(prefix, prefix_len), v;
  int rc = mdb_cursor_open(txn->txn, dbi, &cur);
  if (rc) {
    *err = cs__mdb_err(rc);
    return;
  }
  for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); rc == 0; rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
    if (k.mv_size < prefix_len || memcmp(k.mv_data, prefix, prefix_len) != 0) break;
    uint8_t lens[16];
    cs__put_be64(lens, k.mv_size);
    cs__put_be64(lens + 8, v.mv_size);
    crypto_generichash_update(st, lens, sizeof(lens));
    crypto_generichash_update(st, k.mv_data, k.mv_size);
    crypto_generichash_update(st, v.mv_data, v.mv_size);
  }
  mdb_cursor_close(cur);
}

int cs_store_digest(cs_txn_t *txn, const uint8_t club[CS_ID_LEN], uint8_t out[32]) {
  static const char domain[] = "clubsync/digest/v1";
  crypto_generichash_state st;
  int err = CS_OK;
  crypto_generichash_init(&st, NULL, 0, 32);
  crypto_generichash_update(&st, (const uint8_t *)domain, sizeof(domain) - 1);
  /* The club record's change count depends on evidence kept, not on state,
   * so only its identity is hashed. */
  crypto_generichash_update(&st, club, CS_ID_LEN);
  cs__hash_range(txn, txn->store->members, club, CS_ID_LEN, &st, &err);
  cs__hash_range(txn, txn->store->objects, club, CS_ID_LEN, &st, &err);
  crypto_generichash_final(&st, out, 32);
  return err;
}

static uint64_t cs__count_prefix(cs_txn_t *txn, MDB_dbi dbi, const uint8_t *prefix, size_t prefix_len) {
  MDB_cursor *cur;
  MDB_val k = cs__val(prefix, prefix_len), v;
  uint64_t n = 0;
  if (mdb_cursor_open(txn->txn, dbi, &cur)) return 0;
  for (int rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); rc == 0; rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
    if (k.mv_size < prefix_len || memcmp(k.mv_data, prefix, prefix_len) != 0) break;
    n++;
  }
  mdb_cursor_close(cur);
  return n;
}

static int cs__count_invalid(const uint8_t id[CS_ID_LEN], cs_span_t bytes, void *ctx) {
  (void)bytes;
  cs_txn_t *txn = ((void **)ctx)[0];
  uint64_t *n = ((void **)ctx)[1];
  if (cs_store_change_status(txn, id) != CS_OK) (*n)++;
  return 0;
}

int cs_store_counts(cs_txn_t *txn, const uint8_t club[CS_ID_LEN], cs_store_counts_t *out) {
  memset(out, 0, sizeof(*out));
  out->changes = cs__count_prefix(txn, txn->store->order, club, CS_ID_LEN);
  out->objects = cs__count_prefix(txn, txn->store->objects, club, CS_ID_LEN);
  out->heads = cs__count_prefix(txn, txn->store->heads, club, CS_ID_LEN);
  out->forks = cs__count_prefix(txn, txn->store->forks, club, CS_ID_LEN);
  MDB_stat st;
  if (mdb_stat(txn->txn, txn->store->pending, &st) == 0) out->pending = st.ms_entries;
  if (mdb_stat(txn->txn, txn->store->status, &st) == 0 && st.ms_entries > 0) {
    void *ctx[2] = {txn, &out->invalid};
    return cs_store_changes(txn, club, cs__count_invalid, ctx);
  }
  return CS_OK;
}

int cs_store_forks(cs_txn_t *txn, const uint8_t club[CS_ID_LEN],
                   int (*each_cb)(const uint8_t author[CS_KEY_LEN], uint64_t seq, const uint8_t first[CS_ID_LEN],
                                  const uint8_t second[CS_ID_LEN], void *ctx),
                   void *ctx) {
  MDB_cursor *cur;
  MDB_val k = cs__val(club, CS_ID_LEN), v;
  int rc = mdb_cursor_open(txn->txn, txn->store->forks, &cur);
  if (rc) return cs__mdb_err(rc);
  int cb_err = CS_OK;
  for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); rc == 0; rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
    if (k.mv_size != CS__K3 || memcmp(k.mv_data, club, CS_ID_LEN) != 0) break;
    if (v.mv_size != 2 * CS_ID_LEN) continue;
    const uint8_t *kp = k.mv_data, *vp = v.mv_data;
    if ((cb_err = each_cb(kp + CS_ID_LEN, cs__get_be64(kp + CS__K2), vp, vp + CS_ID_LEN, ctx))) break;
  }
  return cs__walk_end(cur, rc, CS_OK, cb_err);
}

uint64_t cs_store_arrival_last(cs_txn_t *txn) {
  MDB_cursor *cur;
  MDB_val k, v;
  uint64_t last = 0;
  if (mdb_cursor_open(txn->txn, txn->store->arrivals, &cur)) return 0;
  if (mdb_cursor_get(cur, &k, &v, MDB_LAST) == 0 && k.mv_size == 8) last = cs__get_be64(k.mv_data);
  mdb_cursor_close(cur);
  return last;
}

int cs_store_arrivals_since(cs_txn_t *txn, uint64_t after,
                            int (*each_cb)(uint64_t arrival, const uint8_t id[CS_ID_LEN], cs_span_t signed_bytes,
                                           void *ctx),
                            void *ctx) {
  MDB_cursor *cur;
  uint8_t start[8];
  cs__put_be64(start, after + 1);
  MDB_val k = cs__val(start, 8), v;
  int rc = mdb_cursor_open(txn->txn, txn->store->arrivals, &cur);
  if (rc) return cs__mdb_err(rc);
  int cb_err = CS_OK;
  for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); rc == 0; rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
    if (k.mv_size != 8 || v.mv_size <= CS_ID_LEN) continue;
    cs_span_t bytes = {(const uint8_t *)v.mv_data + CS_ID_LEN, v.mv_size - CS_ID_LEN};
    if ((cb_err = each_cb(cs__get_be64(k.mv_data), v.mv_data, bytes, ctx))) break;
  }
  return cs__walk_end(cur, rc, CS_OK, cb_err);
}

int cs_store_heads(cs_txn_t *txn, const uint8_t club[CS_ID_LEN], uint8_t (*heads_out)[CS_ID_LEN], uint32_t max,
                   uint32_t *count) {
  MDB_cursor *cur;
  MDB_val k = cs__val(club, CS_ID_LEN), v;
  *count = 0;
  int rc = mdb_cursor_open(txn->txn, txn->store->heads, &cur);
  if (rc) return cs__mdb_err(rc);
  for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); rc == 0 && *count < max;
       rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
    if (k.mv_size != CS__K2 || memcmp(k.mv_data, club, CS_ID_LEN) != 0) break;
    memcpy(heads_out[(*count)++], (const uint8_t *)k.mv_data + CS_ID_LEN, CS_ID_LEN);
  }
  mdb_cursor_close(cur);
  return CS_OK;
}

uint64_t cs_store_rebuilds(const cs_store_t *store) { return store->rebuilds; }

uint64_t cs_store_member_rounds(const cs_store_t *store) { return store->member_rounds; }

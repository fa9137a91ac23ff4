/* Casts many ballots from one clubsync home in one process, for tests that
 * need a busy motion (tests/integration/test_verify_busy_motion.sh): a loop
 * of `clubsync motion vote` costs a process per ballot, too slow under the
 * sanitizers for thousands.
 *
 *   vote_many HOME MOTION_ID COUNT CHOICE...
 *
 * Ballot i is CHOICE number i modulo the number of choices given, so the
 * last is known. Each ballot is the change `motion vote` writes: the key's
 * first creates its vote object under the motion and sets the choice; every
 * later one overwrites the choice, naming the values it replaces. Each is
 * authored with the home's key through the store, as the command does.
 * Exit status: 0 when every ballot was written, 1 otherwise. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "core/mp.h"
#include "core/object.h"
#include "core/op.h"
#include "store/store.h"

/* Ballots written per transaction: one commit per ballot would be slower. */
#define VOTE_MANY_BATCH 100

static int fail(const char *what, int err) {
  fprintf(stderr, "vote_many: %s: %s\n", what, cs_strerror(err));
  return 1;
}

/* The identity file: msgpack [1, secret key (bin 64), museum, region]. */
static int read_secret_key(const char *home, uint8_t sk[CS_SECRET_KEY_LEN]) {
  char path[4200];
  snprintf(path, sizeof(path), "%s/identity", home);
  FILE *f = fopen(path, "rb");
  if (!f) return CS_ENOTFOUND;
  uint8_t buf[1024];
  size_t n = fread(buf, 1, sizeof(buf), f);
  fclose(f);
  cs_mp_reader_t r = cs_mp_reader((cs_span_t){buf, n});
  uint32_t count;
  uint64_t version;
  cs_span_t key;
  int err = cs_mp_read_array(&r, &count);
  if (!err) err = cs_mp_read_uint(&r, &version);
  if (!err) err = cs_mp_read_bin(&r, &key);
  if (!err && (count != 4 || version != 1 || key.len != CS_SECRET_KEY_LEN)) err = CS_EFORMAT;
  if (!err) memcpy(sk, key.ptr, CS_SECRET_KEY_LEN);
  sodium_memzero(buf, sizeof(buf));
  return err;
}

static int first_club(const cs_club_info_t *club, void *ctx) {
  memcpy(ctx, club->id, CS_ID_LEN);
  return CS_STOP;
}

typedef struct my_vote_s {
  const uint8_t *motion;
  const uint8_t *key;
  bool found;
  uint8_t id[CS_ID_LEN];
} my_vote_t;

static int find_my_vote(const uint8_t id[CS_ID_LEN], const cs_object_t *obj, void *vctx) {
  my_vote_t *ctx = vctx;
  if (!obj->has_parent || memcmp(obj->parent, ctx->motion, CS_ID_LEN) != 0) return 0;
  if (memcmp(obj->creator, ctx->key, CS_KEY_LEN) != 0) return 0;
  ctx->found = true;
  memcpy(ctx->id, id, CS_ID_LEN);
  return CS_STOP;
}

/* One ballot, written and ingested in txn. */
static int vote_once(cs_txn_t *txn, const uint8_t club[CS_ID_LEN], const uint8_t *sk, const uint8_t motion[CS_ID_LEN],
                     const char *choice) {
  my_vote_t mine = {motion, sk + 32, false, {0}};
  int err = cs_store_objects(txn, club, CS_OBJ_VOTE, find_my_vote, &mine);
  if (err) return err;
  cs_buf_t payload;
  cs_buf_init(&payload, CS_CHANGE_PAYLOAD_MAX);
  if (mine.found) {
    cs_object_t vote;
    cs_object_init(&vote);
    if ((err = cs_store_object_get(txn, club, mine.id, &vote))) {
      cs_buf_free(&payload);
      return err;
    }
    uint8_t preds[CS_PREDS_MAX][CS_ID_LEN];
    uint32_t n = 0;
    for (uint32_t i = 0; i < vote.entry_count && n < CS_PREDS_MAX; i++)
      if (vote.entries[i].field == CS_F_VOTE_CHOICE) memcpy(preds[n++], vote.entries[i].op, CS_ID_LEN);
    cs_object_free(&vote);
    cs_mp_write_array(&payload, 1);
    cs_op_write_set_str(&payload, cs_ref_id(mine.id), CS_F_VOTE_CHOICE, choice, n,
                        (const uint8_t(*)[CS_ID_LEN])preds);
  } else {
    cs_ref_t parent = cs_ref_id(motion);
    cs_mp_write_array(&payload, 2);
    cs_op_write_create(&payload, CS_OBJ_VOTE, &parent);
    cs_op_write_set_str(&payload, cs_ref_local(0), CS_F_VOTE_CHOICE, choice, 0, NULL);
  }
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  uint8_t id[CS_ID_LEN];
  err = payload.failed ? CS_ETOOBIG
                       : cs_store_author(txn, club, sk, cs_buf_span(&payload),
                                         (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000, id);
  cs_buf_free(&payload);
  return err;
}

int main(int argc, char **argv) {
  if (argc < 5) {
    fprintf(stderr, "usage: vote_many HOME MOTION_ID COUNT CHOICE...\n");
    return 2;
  }
  const char *home = argv[1];
  long count = strtol(argv[3], NULL, 10);
  uint8_t motion[CS_ID_LEN], club[CS_ID_LEN];
  if (sodium_init() < 0) return fail("libsodium", CS_ENOMEM);
  if (cs_unhex32(argv[2], motion) != CS_OK || count < 1) {
    fprintf(stderr, "vote_many: MOTION_ID is 64 hex digits and COUNT at least 1\n");
    return 2;
  }
  uint8_t *sk = sodium_malloc(CS_SECRET_KEY_LEN);
  if (!sk) return fail("key", CS_ENOMEM);
  int err = read_secret_key(home, sk);
  if (err) {
    sodium_free(sk);
    return fail("the home's identity", err);
  }
  char path[4200];
  snprintf(path, sizeof(path), "%s/store", home);
  cs_store_t *store = NULL;
  if ((err = cs_store_open(path, &store))) {
    sodium_free(sk);
    return fail("the home's store", err);
  }
  cs_txn_t txn;
  if (!(err = cs_store_begin(store, false, &txn))) {
    memset(club, 0, sizeof(club));
    err = cs_store_clubs(&txn, first_club, club);
    cs_store_abort(&txn);
  }
  for (long done = 0; !err && done < count;) {
    if ((err = cs_store_begin(store, true, &txn))) break;
    for (long i = 0; !err && i < VOTE_MANY_BATCH && done < count; i++, done++)
      err = vote_once(&txn, club, sk, motion, argv[4 + done % (argc - 4)]);
    if (err) cs_store_abort(&txn);
    else err = cs_store_commit(&txn);
  }
  cs_store_close(store);
  sodium_free(sk);
  if (err) return fail("cannot vote", err);
  printf("%ld ballots cast\n", count);
  return 0;
}

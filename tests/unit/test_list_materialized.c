/* `request list --json` over 10,000 requests answers from
 * the materialized objects alone. The test proves it by emptying the signed
 * history (changes, chain, order) with LMDB directly, then listing. */
#include "tests/unit/testlib.h"

#include <lmdb.h>

#include "core/op.h"

#define REQUESTS 10000

int main(void) {
  if (sodium_init() < 0) return 2;
  const char *clubsync = getenv("CLUBSYNC");
  if (!clubsync) {
    fprintf(stderr, "set CLUBSYNC to the clubsync binary\n");
    return 2;
  }
  char home[64], store_dir[128];
  test_tmpdir(home, sizeof(home));
  snprintf(store_dir, sizeof(store_dir), "%s/store", home);
  cs_store_t *s = test_store_open(store_dir);
  uint8_t pk[32], sk[64], club[32], id[32];
  test_key(3, pk, sk);

  cs_buf_t p;
  cs_buf_init(&p, CS_CHANGE_PAYLOAD_MAX);
  cs_mp_write_array(&p, 1);
  cs_op_write_genesis(&p, "Club", "Flora", "Musée");
  CHECK_EQ_INT(test_author(s, NULL, sk, cs_buf_span(&p), club), CS_OK);

  cs_txn_t txn;
  CHECK_EQ_INT(cs_store_begin(s, true, &txn), CS_OK);
  for (int i = 0; i < REQUESTS; i++) {
    char title[64];
    snprintf(title, sizeof(title), "Demande d'évolution %05d", i);
    cs_buf_reset(&p);
    cs_mp_write_array(&p, 3);
    cs_op_write_create(&p, CS_OBJ_REQUEST, NULL);
    cs_op_write_set_str(&p, cs_ref_local(0), CS_F_REQ_TITLE, title, 0, NULL);
    cs_op_write_set_str(&p, cs_ref_local(0), CS_F_REQ_STATUS, "submitted", 0, NULL);
    if (cs_store_author(&txn, club, sk, cs_buf_span(&p), 1700000000000 + i, id) != CS_OK) {
      CHECK(0);
      break;
    }
  }
  CHECK_EQ_INT(cs_store_commit(&txn), CS_OK);
  cs_buf_free(&p);
  cs_store_close(s);

  /* Empty the history: only materialized state is left. */
  MDB_env *env;
  MDB_txn *t;
  CHECK_EQ_INT(mdb_env_create(&env), 0);
  mdb_env_set_maxdbs(env, 32);
  mdb_env_set_mapsize(env, CS_STORE_MAP_SIZE);
  CHECK_EQ_INT(mdb_env_open(env, store_dir, 0, 0600), 0);
  CHECK_EQ_INT(mdb_txn_begin(env, NULL, 0, &t), 0);
  const char *history[] = {"changes", "chain", "order", "arrivals"};
  for (size_t i = 0; i < 4; i++) {
    MDB_dbi dbi;
    CHECK_EQ_INT(mdb_dbi_open(t, history[i], 0, &dbi), 0);
    CHECK_EQ_INT(mdb_drop(t, dbi, 0), 0);
  }
  CHECK_EQ_INT(mdb_txn_commit(t), 0);
  mdb_env_close(env);

  char cmd[512];
  snprintf(cmd, sizeof(cmd), "'%s' --home '%s' request list --json", clubsync, home);
  FILE *out = popen(cmd, "r");
  CHECK(out != NULL);
  char line[1024];
  int ids = 0, first_title = 0;
  while (out && fgets(line, sizeof(line), out)) {
    if (strstr(line, "\"id\": \"")) ids++;
    if (strstr(line, "Demande d'évolution 00000")) first_title = 1;
  }
  CHECK_EQ_INT(out ? pclose(out) : -1, 0);
  CHECK_EQ_INT(ids, REQUESTS);
  CHECK(first_title);
  test_rmdir(home);
  TEST_SUMMARY();
}

/* The limits of a change's ops hold in core, at ingest, whoever signed the
 * change (not only in the CLI): a title of CS_TITLE_MAX bytes passes and one
 * byte more does not; a tag of CS_TAG_MAX bytes passes and one more does not;
 * a change that files a request gives it CS_TAGS_MAX tags, not one more; a
 * local ref names one of the first CS_LOCAL_REFS_MAX create ops, not the
 * next. Each case but the last is authored and ingested in a real LMDB store. */
#include "tests/unit/testlib.h"

static char *repeat(char c, size_t n) {
  char *s = malloc(n + 1);
  memset(s, c, n);
  s[n] = '\0';
  return s;
}

/* A change filing a request with `title` and `tags` tags of `tag_len` bytes. */
static int file_request(cs_store_t *s, const uint8_t *club, const uint8_t *sk, const char *title, int tags,
                        size_t tag_len) {
  cs_buf_t p;
  uint8_t id[32];
  cs_buf_init(&p, CS_CHANGE_PAYLOAD_MAX);
  cs_mp_write_array(&p, (uint32_t)(2 + tags));
  cs_op_write_create(&p, CS_OBJ_REQUEST, NULL);
  cs_op_write_set_str(&p, cs_ref_local(0), CS_F_REQ_TITLE, title, 0, NULL);
  for (int i = 0; i < tags; i++) {
    char *tag = repeat('t', tag_len), digits[12];
    snprintf(digits, sizeof(digits), "%03d", i);
    memcpy(tag, digits, 3); /* distinct tags of tag_len bytes */
    cs_op_write_add_str(&p, cs_ref_local(0), CS_F_REQ_TAGS, tag);
    free(tag);
  }
  int err = test_author(s, club, sk, cs_buf_span(&p), id);
  cs_buf_free(&p);
  return err;
}

/* The shape check of a payload of `creates` create ops, then a set on the
 * object of op `ref`. (The store takes fewer objects per change than there
 * are local refs, so this is checked on the payload, as ingest's first step.) */
static int set_by_local_ref(uint32_t creates, uint32_t ref) {
  cs_buf_t p;
  cs_buf_init(&p, CS_CHANGE_PAYLOAD_MAX);
  cs_mp_write_array(&p, creates + 1);
  for (uint32_t i = 0; i < creates; i++) cs_op_write_create(&p, CS_OBJ_REQUEST, NULL);
  cs_op_write_set_str(&p, cs_ref_local(ref), CS_F_REQ_TITLE, "Une demande", 0, NULL);
  int err = cs_payload_check(cs_buf_span(&p), false);
  cs_buf_free(&p);
  return err;
}

int main(void) {
  if (sodium_init() < 0) return 2;
  char dir[64];
  test_tmpdir(dir, sizeof(dir));
  cs_store_t *s = test_store_open(dir);
  uint8_t pk[32], sk[64], club[32], request[32];
  test_key(1, pk, sk);
  test_club_with_request(s, sk, club, request);

  char *title = repeat('a', CS_TITLE_MAX), *longer = repeat('a', CS_TITLE_MAX + 1);
  CHECK_EQ_INT(file_request(s, club, sk, title, 0, 0), CS_OK);
  CHECK_EQ_INT(file_request(s, club, sk, longer, 0, 0), CS_ETOOBIG);
  CHECK_EQ_INT(file_request(s, club, sk, "Tags", 1, CS_TAG_MAX), CS_OK);
  CHECK_EQ_INT(file_request(s, club, sk, "Tags", 1, CS_TAG_MAX + 1), CS_ETOOBIG);
  CHECK_EQ_INT(file_request(s, club, sk, "Tags", CS_TAGS_MAX, 8), CS_OK);
  CHECK_EQ_INT(file_request(s, club, sk, "Tags", CS_TAGS_MAX + 1, 8), CS_ETOOBIG);
  CHECK_EQ_INT(set_by_local_ref(CS_LOCAL_REFS_MAX, CS_LOCAL_REFS_MAX - 1), CS_OK);
  CHECK_EQ_INT(set_by_local_ref(CS_LOCAL_REFS_MAX + 1, CS_LOCAL_REFS_MAX), CS_EFORMAT);

  /* The value rules, as `verify` and every front-end call them. */
  const cs_field_spec_t *tags = cs_model_field(CS_OBJ_REQUEST, CS_F_REQ_TAGS);
  CHECK(tags != NULL && tags->value == CS_VALUE_TAG);
  cs_buf_t v;
  cs_buf_init(&v, CS_ELEMENT_MAX);
  char *tag = repeat('x', CS_TAG_MAX + 1);
  cs_mp_write_cstr(&v, tag);
  CHECK_EQ_INT(cs_model_check_value(tags, CS_ROLE_MEMBER, cs_buf_span(&v)), CS_ETOOBIG);
  cs_buf_reset(&v);
  tag[CS_TAG_MAX] = '\0';
  cs_mp_write_cstr(&v, tag);
  CHECK_EQ_INT(cs_model_check_value(tags, CS_ROLE_MEMBER, cs_buf_span(&v)), CS_OK);
  cs_buf_reset(&v);
  cs_mp_write_cstr(&v, "");
  CHECK_EQ_INT(cs_model_check_value(tags, CS_ROLE_MEMBER, cs_buf_span(&v)), CS_EFORMAT);
  cs_buf_free(&v);
  free(tag);
  free(title);
  free(longer);
  cs_store_close(s);
  test_rmdir(dir);
  TEST_SUMMARY();
}

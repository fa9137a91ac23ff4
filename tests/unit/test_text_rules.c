/* Text rules hold in core, whoever signed the change: a title that is empty,
 * only spaces, broken across lines or holding a control character, and
 * invalid UTF-8 in any text field, make a change invalid on every node that
 * ingests it (the CLI runs the same check first, tests/integration/
 * test_input_text.sh). A body holds 16 KiB of text, as docs/data-model.md
 * says. Names fold (case, accents, spacing) and text has a display width,
 * both from utf8proc. */
#include "tests/unit/testlib.h"

#include "core/similar.h"
#include "core/text.h"

static cs_text_problem_t line(const char *s) {
  return cs_text_check((cs_span_t){(const uint8_t *)s, strlen(s)}, true, CS_TITLE_MAX, NULL);
}
static cs_text_problem_t text(const char *s) {
  return cs_text_check((cs_span_t){(const uint8_t *)s, strlen(s)}, false, CS_TEXT_MAX, NULL);
}

/* A change setting one text field of the club's request, signed with sk. */
static int set_field(cs_store_t *s, const uint8_t *club, const uint8_t *sk, const uint8_t request[32],
                     uint64_t field, const char *value) {
  cs_buf_t p;
  uint8_t id[32];
  cs_buf_init(&p, CS_CHANGE_PAYLOAD_MAX);
  cs_mp_write_array(&p, 1);
  cs_op_write_set_str(&p, cs_ref_id(request), field, value, 0, NULL);
  int err = test_author(s, club, sk, cs_buf_span(&p), id);
  cs_buf_free(&p);
  return err;
}

static int add_tag(cs_store_t *s, const uint8_t *club, const uint8_t *sk, const uint8_t request[32], const char *tag) {
  cs_buf_t p;
  uint8_t id[32];
  cs_buf_init(&p, CS_CHANGE_PAYLOAD_MAX);
  cs_mp_write_array(&p, 1);
  cs_op_write_add_str(&p, cs_ref_id(request), CS_F_REQ_TAGS, tag);
  int err = test_author(s, club, sk, cs_buf_span(&p), id);
  cs_buf_free(&p);
  return err;
}

static int member_payload(const char *museum) {
  cs_buf_t p;
  uint8_t pk[32], sk[64];
  test_key(9, pk, sk);
  cs_buf_init(&p, CS_CHANGE_PAYLOAD_MAX);
  cs_mp_write_array(&p, 1);
  cs_op_write_member(&p, pk, museum, CS_ROLE_MEMBER, 0);
  int err = cs_payload_check(cs_buf_span(&p), false);
  cs_buf_free(&p);
  return err;
}

static char *repeat(char c, size_t n) {
  char *s = malloc(n + 1);
  memset(s, c, n);
  s[n] = '\0';
  return s;
}

static int fold_eq(const char *a, const char *b) {
  char fa[256], fb[256];
  cs_text_fold(a, fa, sizeof(fa));
  cs_text_fold(b, fb, sizeof(fb));
  return strcmp(fa, fb) == 0;
}

int main(void) {
  if (sodium_init() < 0) return 2;

  /* The rule, on the bytes alone. */
  CHECK_EQ_INT(line("Récolement sur tablette"), CS_TEXT_OK);
  CHECK_EQ_INT(line(""), CS_TEXT_BLANK);
  CHECK_EQ_INT(line("   "), CS_TEXT_BLANK);
  CHECK_EQ_INT(line("\xc2\xa0\xe2\x80\x83"), CS_TEXT_BLANK);       /* no-break space, em space */
  CHECK_EQ_INT(line("\xe2\x80\x8b"), CS_TEXT_BLANK);                /* a zero-width space alone */
  CHECK_EQ_INT(line("Export\nPDF"), CS_TEXT_LINE_BREAK);
  CHECK_EQ_INT(line("Export\r"), CS_TEXT_LINE_BREAK);
  CHECK_EQ_INT(line("Export\xe2\x80\xa8PDF"), CS_TEXT_LINE_BREAK); /* U+2028 line separator */
  CHECK_EQ_INT(line("Export\tPDF"), CS_TEXT_CONTROL);
  CHECK_EQ_INT(line("\x1b[31mRouge"), CS_TEXT_CONTROL);
  CHECK_EQ_INT(line("caf\xe9"), CS_TEXT_UTF8);                      /* Latin-1, not UTF-8 */
  CHECK_EQ_INT(line("\xed\xa0\x80"), CS_TEXT_UTF8);                 /* a surrogate */
  CHECK_EQ_INT(line("\xc0\xaf"), CS_TEXT_UTF8);                     /* an overlong '/' */
  int32_t c = 0;
  CHECK_EQ_INT(cs_text_check((cs_span_t){(const uint8_t *)"a\x07", 2}, true, 10, &c), CS_TEXT_CONTROL);
  CHECK_EQ_INT(c, 7);
  CHECK_EQ_INT(text("Ligne 1\nLigne 2\r\n\tindentée"), CS_TEXT_OK);
  CHECK_EQ_INT(text(""), CS_TEXT_OK);
  CHECK_EQ_INT(text("\x1b[2J"), CS_TEXT_CONTROL);
  CHECK_EQ_INT(text("\xc2\x9b"), CS_TEXT_CONTROL);                  /* U+009B, a C1 escape */
  CHECK_EQ_INT(text("r\xe9sum\xe9"), CS_TEXT_UTF8);

  /* At ingest: a change signed outside the CLI with such a value is
   * invalid, on every node (each runs this ingest), and changes nothing. */
  char dir[64];
  test_tmpdir(dir, sizeof(dir));
  cs_store_t *s = test_store_open(dir);
  uint8_t pk[32], sk[64], club[32], request[32];
  test_key(1, pk, sk);
  test_club_with_request(s, sk, club, request);
  CHECK_EQ_INT(set_field(s, club, sk, request, CS_F_REQ_TITLE, "Une demande, renommée"), CS_OK);
  CHECK_EQ_INT(set_field(s, club, sk, request, CS_F_REQ_TITLE, "  "), CS_EFORMAT);
  CHECK_EQ_INT(set_field(s, club, sk, request, CS_F_REQ_TITLE, "Deux\nlignes"), CS_EFORMAT);
  CHECK_EQ_INT(set_field(s, club, sk, request, CS_F_REQ_TITLE, "Cloche\x07"), CS_EFORMAT);
  CHECK_EQ_INT(set_field(s, club, sk, request, CS_F_REQ_TITLE, "caf\xe9"), CS_EFORMAT);
  CHECK_EQ_INT(set_field(s, club, sk, request, CS_F_REQ_MODULE, "r\xe9" "colement"), CS_EFORMAT);
  CHECK_EQ_INT(set_field(s, club, sk, request, CS_F_REQ_BODY, "caf\xe9"), CS_EFORMAT);
  CHECK_EQ_INT(set_field(s, club, sk, request, CS_F_REQ_BODY, "\x1b]0;pwned\x07"), CS_EFORMAT);
  CHECK_EQ_INT(set_field(s, club, sk, request, CS_F_REQ_BODY, "Ligne 1\nLigne 2"), CS_OK);
  CHECK_EQ_INT(add_tag(s, club, sk, request, "ta\ng"), CS_EFORMAT);
  CHECK_EQ_INT(add_tag(s, club, sk, request, "export"), CS_OK);
  /* A body of 16 KiB is valid, one byte more is not. */
  char *body = repeat('b', CS_TEXT_MAX), *longer = repeat('b', CS_TEXT_MAX + 1);
  CHECK_EQ_INT(set_field(s, club, sk, request, CS_F_REQ_BODY, body), CS_OK);
  CHECK_EQ_INT(set_field(s, club, sk, request, CS_F_REQ_BODY, longer), CS_ETOOBIG);
  free(body);
  free(longer);
  cs_txn_t txn;
  cs_object_t obj;
  char title[CS_TITLE_MAX + 1] = "";
  CHECK_EQ_INT(cs_store_begin(s, false, &txn), CS_OK);
  CHECK_EQ_INT(cs_store_object_get(&txn, club, request, &obj), CS_OK);
  const cs_entry_t *e;
  if (cs_object_field(&obj, CS_F_REQ_TITLE, &e)) cs_value_str(e->value, e->value_len, title, sizeof(title));
  CHECK(strcmp(title, "Une demande, renommée") == 0);
  cs_object_free(&obj);
  cs_store_abort(&txn);
  cs_store_close(s);
  test_rmdir(dir);

  /* Names in member ops are refused on the bytes (cs_payload_check). */
  CHECK_EQ_INT(member_payload("Musée Fabre"), CS_OK);
  CHECK_EQ_INT(member_payload("Mus\xe9" "e Fabre"), CS_EFORMAT);
  CHECK_EQ_INT(member_payload("Musée\nFabre"), CS_EFORMAT);

  /* Folding: NFKC, case, accents and spacing. */
  CHECK(fold_eq("Musée Fabre", "Musee  fabre"));
  CHECK(fold_eq("Musée Fabre", "MUSÉE-FABRE"));
  CHECK(fold_eq("Musée Fabre", "Muse\xcc\x81" "e Fabre")); /* a combining acute accent */
  CHECK(fold_eq("Récolement", "recolement"));
  CHECK(fold_eq("Œuvres", "œuvres"));
  CHECK(fold_eq("\xef\xac\x81" "chier", "fichier")); /* the fi ligature */
  CHECK(!fold_eq("Musée Fabre", "Musée Fabre 2"));
  char folded[8];
  CHECK_EQ_INT(cs_text_fold("Récolement", folded, sizeof(folded)), 7); /* cut to fit */
  CHECK(strcmp(folded, "recolem") == 0);
  CHECK_EQ_INT(cs_text_fold("caf\xe9", folded, sizeof(folded)), 0);

  /* Display width: an accent takes no column, a CJK character two. */
  CHECK_EQ_INT(cs_text_width("Récolement"), 10);
  CHECK_EQ_INT(cs_text_width("Re\xcc\x81" "colement"), 10);
  CHECK_EQ_INT(cs_text_width("\xe6\x97\xa5\xe6\x9c\xac"), 4);
  CHECK_EQ_INT(cs_text_width("export"), 6);

  /* The duplicate suggestion folds the same way. */
  CHECK(cs_similarity("Export PDF des constats d'état", "export des constats d'etat en PDF") > 0.6);
  CHECK(cs_similarity("Récolement", "RECOLEMENT") > 0.99);
  TEST_SUMMARY();
}

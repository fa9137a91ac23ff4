/* export, import, vector: offline exchange by file. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/bundle.h"
#include "core/op.h"
#include "store/verifier.h"
#include "tools/cli.h"

#define IMPORT_BATCH 512
#define VECTOR_AUTHORS_MAX 100000

/* vector file: msgpack ["clubsync-vector", 1, club, [[author, seq]...]]. */
typedef struct vector_s {
  uint8_t club[CS_ID_LEN];
  uint32_t count;
  uint8_t (*authors)[CS_KEY_LEN];
  uint64_t *seqs;
} vector_t;

static int vector_read(const char *path, vector_t *v) {
  cli_mapped_t m;
  memset(v, 0, sizeof(*v));
  if (cli_map_file(path, &m) != 0) return cli_fail(CLI_ERROR, "cannot read %s: %s", path, strerror(errno));
  cs_mp_reader_t r = cs_mp_reader(m.bytes);
  uint32_t n, count;
  uint64_t version;
  cs_span_t magic;
  int code = CLI_OK;
  if (cs_mp_read_array(&r, &n) || n != 4 || cs_mp_read_str(&r, &magic) || magic.len != 15 ||
      memcmp(magic.ptr, "clubsync-vector", 15) || cs_mp_read_uint(&r, &version) || version != 1 ||
      cs_mp_read_bin32(&r, v->club) || cs_mp_read_array(&r, &count) || count > VECTOR_AUTHORS_MAX ||
      count > cs_mp_remaining(&r)) {
    code = cli_fail(CLI_INVALID, "%s is not a clubsync vector file", path);
    goto done;
  }
  v->authors = malloc((count ? count : 1) * (size_t)CS_KEY_LEN);
  v->seqs = malloc((count ? count : 1) * sizeof(uint64_t));
  if (!v->authors || !v->seqs) {
    code = cli_fail(CLI_ERROR, "out of memory");
    goto done;
  }
  for (uint32_t i = 0; i < count; i++) {
    if (cs_mp_read_array(&r, &n) || n != 2 || cs_mp_read_bin32(&r, v->authors[i]) || cs_mp_read_uint(&r, &v->seqs[i])) {
      code = cli_fail(CLI_INVALID, "%s is damaged", path);
      goto done;
    }
    v->count++;
  }
done:
  cli_unmap_file(&m);
  return code;
}

static uint64_t vector_seq(const vector_t *v, const uint8_t author[CS_KEY_LEN]) {
  for (uint32_t i = 0; i < v->count; i++)
    if (memcmp(v->authors[i], author, CS_KEY_LEN) == 0) return v->seqs[i];
  return 0;
}

typedef struct export_ctx_s {
  FILE *file;
  cs_bundle_writer_t writer;
  cs_buf_t buf;
  const vector_t *since;
  uint64_t written;
  int err;
} export_ctx_t;

static int export_flush(export_ctx_t *ctx) {
  if (ctx->buf.failed) return CS_ENOMEM;
  if (ctx->buf.len && fwrite(ctx->buf.data, 1, ctx->buf.len, ctx->file) != ctx->buf.len) return CS_EIO;
  cs_buf_reset(&ctx->buf);
  return CS_OK;
}

static int export_each(const uint8_t id[CS_ID_LEN], cs_span_t bytes, void *vctx) {
  export_ctx_t *ctx = vctx;
  (void)id;
  if (ctx->since) {
    cs_change_t *c = malloc(sizeof(*c));
    if (!c) return CS_ENOMEM;
    bool known = cs_change_decode(bytes, c) == CS_OK && c->seq <= vector_seq(ctx->since, c->author);
    free(c);
    if (known) return 0;
  }
  int err = cs_bundle_write_change(&ctx->writer, bytes, &ctx->buf);
  if (!err) ctx->written++;
  if (!err && ctx->buf.len > (1u << 20)) err = export_flush(ctx);
  return err;
}

int cmd_export(cli_t *cli, cli_args_t *args) {
  const char *since_path = cli_take(args, "--since");
  const char *path = cli_next(args);
  int code = cli_no_more(cli, args, "export FILE [--since VECTOR-FILE]");
  if (code) return code;
  if (!path || !*path) return cli_fail(CLI_USAGE, "export needs the FILE to write");
  vector_t since = {0};
  if (since_path && (code = vector_read(since_path, &since))) return code;
  cs_txn_t txn;
  uint8_t club[CS_ID_LEN];
  int err;
  if ((code = cli_read_club(cli, &txn, club))) goto out;
  if (since_path && memcmp(since.club, club, CS_ID_LEN) != 0) {
    cs_store_abort(&txn);
    code = cli_fail(CLI_USAGE, "%s describes another club", since_path);
    goto out;
  }
  char tmp[4200];
  snprintf(tmp, sizeof(tmp), "%s.partial", path);
  export_ctx_t ctx = {.file = fopen(tmp, "wb"), .since = since_path ? &since : NULL};
  if (!ctx.file) {
    cs_store_abort(&txn);
    code = cli_fail(CLI_ERROR, "cannot write %s: %s", tmp, strerror(errno));
    goto out;
  }
  cs_buf_init(&ctx.buf, (size_t)4 << 20);
  cs_bundle_header_t header = {CS_BUNDLE_CHANGES, {0}};
  memcpy(header.club, club, CS_ID_LEN);
  cs_bundle_write_header(&ctx.writer, &header, &ctx.buf);
  err = cs_store_changes(&txn, club, export_each, &ctx);
  cs_store_abort(&txn);
  if (!err) {
    cs_bundle_write_trailer(&ctx.writer, &ctx.buf);
    err = export_flush(&ctx);
  }
  cs_buf_free(&ctx.buf);
  bool closed = fflush(ctx.file) == 0 && fsync(fileno(ctx.file)) == 0;
  closed = fclose(ctx.file) == 0 && closed;
  if (err || !closed || rename(tmp, path) != 0) {
    unlink(tmp);
    code = err ? cli_fail_err(err, "cannot export") : cli_fail(CLI_ERROR, "cannot write %s: %s", path, strerror(errno));
    goto out;
  }
  if (cli->json) {
    code = cli_print_json(json_pack("{s:s s:I}", "file", path, "changes", (json_int_t)ctx.written));
  } else {
    printf("Wrote %llu signed changes to %s.\n", (unsigned long long)ctx.written, path);
  }
out:
  free(since.authors);
  free(since.seqs);
  return code;
}

typedef struct import_stats_s {
  uint64_t added, duplicate, pending, unauthorised, forks, rejected, released, other_club;
  uint64_t reasons[CS_ERR_COUNT];
} import_stats_t;

static void import_count(import_stats_t *s, const cs_ingest_result_t *res) {
  s->released += res->released;
  switch (res->status) {
  case CS_INGEST_NEW: s->added++; break;
  case CS_INGEST_DUPLICATE: s->duplicate++; break;
  case CS_INGEST_PENDING: s->pending++; break;
  case CS_INGEST_UNAUTHORISED: s->unauthorised++; break;
  case CS_INGEST_FORK: s->forks++; break;
  case CS_INGEST_REJECTED:
    s->rejected++;
    if (res->reason > 0 && res->reason < CS_ERR_COUNT) s->reasons[res->reason]++;
    break;
  }
}

/* The name a genesis gives its club, or "" (NUL-terminated in out). */
static void import_genesis_name(cs_span_t genesis, char *out, size_t out_len) {
  cs_change_t *c = malloc(sizeof(*c));
  cs_op_t *op = malloc(sizeof(*op));
  cs_op_iter_t it;
  out[0] = '\0';
  if (c && op && cs_change_decode(genesis, c) == CS_OK && cs_op_iter_init(&it, c->payload_bytes) == CS_OK &&
      cs_op_iter_next(&it, op) == CS_OK && op->type == CS_OP_GENESIS)
    snprintf(out, out_len, "%.*s", (int)op->name.len, (const char *)op->name.ptr);
  free(c);
  free(op);
}

int cmd_import(cli_t *cli, cli_args_t *args) {
  bool new_club = cli_flag(args, "--new-club");
  const char *path = cli_next(args);
  int code = cli_no_more(cli, args, "import FILE [--new-club]");
  if (code) return code;
  if (!path || !*path) return cli_fail(CLI_USAGE, "import needs the bundle FILE to read");
  cli_mapped_t m;
  if (cli_map_file(path, &m) != 0) return cli_fail(CLI_ERROR, "cannot read %s: %s", path, strerror(errno));
  cs_bundle_reader_t reader;
  cs_bundle_header_t header;
  int err = cs_bundle_open(&reader, m.bytes, &header);
  if (err) {
    cli_unmap_file(&m);
    return cli_fail(CLI_INVALID, "%s is not a clubsync bundle (%s)", path, cs_strerror(err));
  }
  if ((code = cli_open(cli, false))) {
    cli_unmap_file(&m);
    return code;
  }
  /* Index the records and check the container's framing and hash first, so
   * a damaged file is reported as damaged rather than as another club's.
   * A bundle is for the one club its header names: a change of another
   * club (another club's genesis included) is refused here and counted,
   * so it never reaches the store, and what is left is imported as a
   * bundle of that club wherever the others stood in the file. */
  import_stats_t stats;
  memset(&stats, 0, sizeof(stats));
  size_t count = 0, cap = 1024;
  cs_span_t *records = malloc(cap * sizeof(*records));
  int integrity = records ? CS_OK : CS_ENOMEM;
  cs_span_t record;
  while (records && (integrity = cs_bundle_next(&reader, &record)) == CS_OK) {
    if (cs_bundle_of_other_club(&header, record)) {
      stats.other_club++;
      continue;
    }
    if (count == cap) {
      cs_span_t *grown = realloc(records, (cap *= 2) * sizeof(*records));
      if (!grown) {
        integrity = CS_ENOMEM;
        break;
      }
      records = grown;
    }
    records[count++] = record;
  }
  if (integrity == CS_ENOMEM) {
    free(records);
    cli_unmap_file(&m);
    return cli_fail(CLI_ERROR, "out of memory reading %s", path);
  }
  if (integrity == CS_ENOTFOUND) integrity = cs_bundle_check_trailer(&reader);

  if (count > 0) {
    /* A bundle for a club this node lacks must start at its genesis. */
    cs_txn_t txn;
    cs_club_info_t info;
    cs_change_t *c = malloc(sizeof(*c));
    bool starts_club = c && cs_change_decode(records[0], c) == CS_OK && !c->has_club &&
                       memcmp(c->id, header.club, CS_ID_LEN) == 0;
    free(c);
    /* A club is held when its data or its network key (joined by invite) is here. */
    cli_club_entry_t *held = NULL;
    uint32_t held_count = 0;
    bool read = cs_store_begin(cli->store, false, &txn) == CS_OK;
    bool known = read && cs_store_club_get(&txn, header.club, &info) == CS_OK;
    if (read && cli_clubs_held(cli, &txn, &held, &held_count) != CS_OK) held_count = 0;
    if (read) cs_store_abort(&txn);
    for (uint32_t i = 0; i < held_count; i++) known = known || memcmp(held[i].id, header.club, CS_ID_LEN) == 0;
    char hex[65];
    cs_hex32(header.club, hex);
    if (!known && !starts_club) {
      free(held);
      free(records);
      cli_unmap_file(&m);
      if (integrity)
        return cli_fail(CLI_INVALID, "%s is damaged (%s); nothing was imported, ask for a new copy", path,
                        cs_strerror(integrity));
      return cli_fail(CLI_NOTFOUND, "%s holds changes of club %s, which this node does not have; import a full "
                                    "export of that club first", path, hex);
    }
    /* A node that holds clubs takes another only when asked: a bundle is
     * for one club, and the person says which clubs their node holds. */
    if (!known && held_count > 0) {
      char name[CS_NAME_MAX + 1], same[CS_NAME_MAX + 64] = "";
      import_genesis_name(records[0], name, sizeof(name));
      for (uint32_t i = 0; i < held_count; i++)
        if (held[i].has_data && strcmp(held[i].name, name) == 0) {
          char other[65];
          cs_hex32(held[i].id, other);
          snprintf(same, sizeof(same), ", not the \"%s\" (%.8s) it holds", name, other);
        }
      if (!new_club)
        code = cli_fail(CLI_USAGE, "%s is a bundle of a club this node does not hold: \"%s\" (%.8s)%s; to hold it "
                                   "as well, run 'clubsync import %s --new-club'", path, name, hex, same, path);
      else
        code = cli_before_new_club(cli, header.club);
      if (!code && !cli->json) printf("Importing a new club for this node: \"%s\" (%.8s)%s.\n", name, hex, same);
    }
    free(held);
    if (code) {
      free(records);
      cli_unmap_file(&m);
      return code;
    }
  }

  /* Signatures are verified ahead on the second core; batches of changes
   * are applied in one write transaction each (group commit). */
  int damage = integrity;
  cs_verifier_t *verifier = cs_verifier_start(records, count);
  cs_txn_t txn;
  bool open_txn = false;
  for (size_t i = 0; i < count && !err; i++) {
    bool verified = verifier ? cs_verifier_wait(verifier, i) : false;
    if (!open_txn) {
      if ((err = cs_store_begin(cli->store, true, &txn))) break;
      open_txn = true;
    }
    cs_ingest_result_t res;
    /* A change that failed verification goes through the full checks again,
     * which report the precise reason. */
    if ((err = cs_store_ingest_checked(&txn, records[i], verified, &res))) break;
    import_count(&stats, &res);
    if ((i + 1) % IMPORT_BATCH == 0) {
      open_txn = false;
      err = cs_store_commit(&txn);
      cli_memory_sample();
    }
  }
  cs_verifier_stop(verifier);
  free(records);
  if (open_txn) {
    if (err) cs_store_abort(&txn);
    else err = cs_store_commit(&txn);
  }
  cli_unmap_file(&m);
  if (err) return cli_fail_err(err, "import stopped; the changes committed before this point are kept");

  char hex[65];
  cs_hex32(header.club, hex);
  if (cli->json) {
    json_t *reasons = json_object();
    for (int i = 1; i < CS_ERR_COUNT; i++)
      if (stats.reasons[i]) json_object_set_new(reasons, cs_strerror(i), json_integer((json_int_t)stats.reasons[i]));
    cli_print_json(json_pack("{s:s s:I s:I s:I s:I s:I s:I s:o s:I s:s*}", "club", hex, "new",
                             (json_int_t)(stats.added + stats.released), "already_had", (json_int_t)stats.duplicate,
                             "pending", (json_int_t)(stats.pending - (stats.pending < stats.released ? stats.pending : stats.released)),
                             "unauthorised", (json_int_t)stats.unauthorised, "forks", (json_int_t)stats.forks,
                             "rejected", (json_int_t)stats.rejected, "reasons", reasons, "other_club",
                             (json_int_t)stats.other_club, "damaged", damage ? cs_strerror(damage) : NULL));
  } else {
    uint64_t still_pending = stats.pending > stats.released ? stats.pending - stats.released : 0;
    printf("Imported %s into club %s:\n", path, hex);
    printf("  %llu new, %llu already here, %llu waiting for earlier changes, %llu kept as evidence (not "
           "authorised), %llu forks, %llu rejected, %llu of another club refused\n",
           (unsigned long long)(stats.added + stats.released), (unsigned long long)stats.duplicate,
           (unsigned long long)still_pending, (unsigned long long)stats.unauthorised,
           (unsigned long long)stats.forks, (unsigned long long)stats.rejected,
           (unsigned long long)stats.other_club);
    for (int i = 1; i < CS_ERR_COUNT; i++)
      if (stats.reasons[i]) printf("  rejected %llu: %s\n", (unsigned long long)stats.reasons[i], cs_strerror(i));
  }
  if (damage)
    return cli_fail(CLI_INVALID, "%s is damaged (%s); every valid change before the damage was imported, ask for "
                                 "a new copy for the rest", path, cs_strerror(damage));
  if (stats.rejected)
    return cli_fail(CLI_INVALID, "%llu changes in %s were rejected as invalid or tampered; nothing else was affected",
                    (unsigned long long)stats.rejected, path);
  if (stats.other_club)
    return cli_fail(CLI_INVALID, "%llu changes in %s belong to another club than the one it is for (%s) and were "
                                 "refused; %s",
                    (unsigned long long)stats.other_club, path, hex,
                    count ? "that club's own changes were imported" : "the file holds none of that club's changes");
  return CLI_OK;
}

typedef struct vector_ctx_s {
  cs_buf_t *buf;
  uint32_t count;
} vector_ctx_t;

static int vector_each(const uint8_t author[CS_KEY_LEN], uint64_t seq, const uint8_t id[CS_ID_LEN], void *vctx) {
  vector_ctx_t *ctx = vctx;
  (void)id;
  if (ctx->buf) {
    cs_mp_write_array(ctx->buf, 2);
    cs_mp_write_bin(ctx->buf, author, CS_KEY_LEN);
    cs_mp_write_uint(ctx->buf, seq);
  }
  ctx->count++;
  return 0;
}

int cmd_vector(cli_t *cli, cli_args_t *args) {
  const char *path = cli_next(args);
  int code = cli_no_more(cli, args, "vector FILE");
  if (code) return code;
  if (!path) return cli_fail(CLI_USAGE, "vector needs the FILE to write");
  cs_txn_t txn;
  uint8_t club[CS_ID_LEN];
  if ((code = cli_read_club(cli, &txn, club))) return code;
  int err;
  vector_ctx_t counter = {NULL, 0};
  cs_buf_t buf;
  cs_buf_init(&buf, (size_t)64 << 20);
  err = cs_store_vector(&txn, club, vector_each, &counter);
  cs_mp_write_array(&buf, 4);
  cs_mp_write_cstr(&buf, "clubsync-vector");
  cs_mp_write_uint(&buf, 1);
  cs_mp_write_bin(&buf, club, CS_ID_LEN);
  cs_mp_write_array(&buf, counter.count);
  vector_ctx_t writer = {&buf, 0};
  if (!err) err = cs_store_vector(&txn, club, vector_each, &writer);
  cs_store_abort(&txn);
  FILE *f = err || buf.failed ? NULL : fopen(path, "wb");
  bool ok = f && fwrite(buf.data, 1, buf.len, f) == buf.len;
  if (f) ok = fclose(f) == 0 && ok;
  cs_buf_free(&buf);
  if (err) return cli_fail_err(err, "cannot read the store");
  if (!ok) return cli_fail(CLI_ERROR, "cannot write %s: %s", path, strerror(errno));
  printf("Wrote this node's version vector (%u authors) to %s; the other museum runs\n"
         "'clubsync export BUNDLE --since %s' and sends you BUNDLE.\n", counter.count, path, path);
  return CLI_OK;
}

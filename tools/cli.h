#ifndef CS_TOOLS_CLI_H
#define CS_TOOLS_CLI_H

/* Shared pieces of the `clubsync` command: arguments, home, identity, store,
 * club selection, errors and JSON output. One file per command family
 * (tools/cmd_*.c) builds on these. */

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

#include "core/change.h"
#include "core/op.h"
#include "store/store.h"

/* Exit codes of the command-line contract (../shared/design/cli.md). */
enum {
  CLI_OK = 0,
  CLI_ERROR = 1,
  CLI_USAGE = 2,
  CLI_DENIED = 3,
  CLI_NOTFOUND = 4,
  CLI_INVALID = 5,
  CLI_INTERRUPTED = 130, /* Ctrl-C, SIGINT or SIGTERM */
};

typedef struct cli_args_s {
  int argc;
  char **argv; /* what is left after global options; argv[0] is the first word after the command */
} cli_args_t;

typedef struct cli_s {
  char home[4096];
  bool json;
  const char *club_arg;
  cs_store_t *store;
  uint8_t *secret_key; /* sodium_malloc'd 64 bytes, or NULL before cli_identity */
  char museum[CS_NAME_MAX + 1];
  char region[CS_NAME_MAX + 1];
} cli_t;

/* Takes the value of `--name VALUE` out of args; NULL if absent. */
const char *cli_take(cli_args_t *args, const char *name);
/* Takes a boolean `--name` flag out of args. */
bool cli_flag(cli_args_t *args, const char *name);
/* Returns the next positional argument and removes it, or NULL. */
const char *cli_next(cli_args_t *args);
/* Fails with a usage error when anything is left. */
int cli_no_more(cli_t *cli, cli_args_t *args, const char *usage);

/* Checks a text argument with the rule every node applies to the field
 * (core/text.h): one_line for titles, names and tags, else long text of at
 * most max_bytes. On a problem, prints one line naming `what` ("the title",
 * "--module") and what to do, and returns CLI_USAGE; else CLI_OK. */
int cli_check_text(const char *what, const char *text, bool one_line, size_t max_bytes);
/* Takes long text given as `flag TEXT` or as `file_flag FILE` (`-` reads
 * standard input), for bodies and comments. *out is NULL when neither is
 * given, else a malloc'd string the caller frees; the text is checked as
 * long text of CS_TEXT_MAX bytes. Returns an exit code (printed). */
int cli_take_long_text(cli_args_t *args, const char *flag, const char *file_flag, const char *what, char **out);

/* Prints `clubsync: error: <message>` to stderr and returns code. */
int cli_fail(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Maps a store or core error to an exit code and a sentence for people. */
int cli_fail_err(int err, const char *what);

/* Opens the store in the home (creating the directory only when create). */
int cli_open(cli_t *cli, bool create);
/* Loads the node's identity (key and museum) from the home. */
int cli_identity(cli_t *cli);
void cli_close(cli_t *cli);

/* Opens the store, begins a read transaction and picks the club: the start
 * of every read command. On failure it has printed the error and ended the
 * transaction, and returns the exit code. */
int cli_read_club(cli_t *cli, cs_txn_t *txn, uint8_t club[CS_ID_LEN]);

/* The clubs a node holds: in its store, or joined by invite (the club's
 * network key in HOME/keys, no data yet). At most CLI_CLUBS_MAX: club
 * create, club join and import --new-club refuse one more. */
#define CLI_CLUBS_MAX 64
#define CLI_CLUB_LABEL_MAX (CS_NAME_MAX + 48)
/* A meeting's date as `meeting add --date` takes it: free text ("2027-03-14",
 * "mars 2027"); the replica holds any CS_VALUE_NAME. */
#define CLI_DATE_MAX 64
typedef struct cli_club_entry_s {
  uint8_t id[CS_ID_LEN];
  char name[CS_NAME_MAX + 1]; /* "" for a club joined and not yet synced */
  bool has_data;              /* in the store */
  bool has_netkey;            /* its network key is here: serve and sync can reach it */
} cli_club_entry_t;

/* Lists the clubs held, by name then id (joined clubs without data last);
 * *out is malloc'd, free it. txn may be NULL (the store is not read). */
int cli_clubs_held(cli_t *cli, cs_txn_t *txn, cli_club_entry_t **out, uint32_t *count) CS_MUST_USE;
/* How a club is named for people, told apart from another of the same
 * name by its short id: "Club Un" (1a2b3c4d). */
void cli_club_label(const cli_club_entry_t *club, char *out, size_t out_len);
/* The default club ('club use'), false when none is set. */
bool cli_default_club(const cli_t *cli, uint8_t out[CS_ID_LEN]);
/* Records the default club; 0 or -1 with errno. */
int cli_set_default_club(const cli_t *cli, const uint8_t id[CS_ID_LEN]);
/* Called before the node gains a club (create with new_club NULL, join,
 * import --new-club), and harmless for a club it holds already:
 * refuses one past CLI_CLUBS_MAX, and when the node held exactly one club
 * and no default, makes that one the default, so that plain commands keep
 * acting on it (and says so on stdout). Returns an exit code. */
int cli_before_new_club(cli_t *cli, const uint8_t new_club[CS_ID_LEN]);

/* Picks the club a command acts on: --club ID|NAME (an id prefix of at
 * least 6 characters, or a name), else the default club ('club use'), else
 * the only club. `joined_too` counts clubs joined but not synced yet (for
 * the network commands); without it, such a club is refused as having no
 * data. On failure it has printed why and returns the exit code. */
int cli_club_pick(cli_t *cli, cs_txn_t *txn, bool joined_too, uint8_t club[CS_ID_LEN]);
/* cli_club_pick for commands that read or write the club's data. */
int cli_club(cli_t *cli, cs_txn_t *txn, uint8_t club[CS_ID_LEN]);
/* Resolves an object id or prefix within the club. */
int cli_object(cli_t *cli, cs_txn_t *txn, const uint8_t club[CS_ID_LEN], const char *arg, uint64_t type,
               uint8_t out[CS_ID_LEN], cs_object_t *obj);

/* The role of this node's key for its next change in the club. */
cs_role_t cli_my_role(cli_t *cli, cs_txn_t *txn, const uint8_t club[CS_ID_LEN]);
/* The museum of a key in a club, or "unknown museum". */
void cli_museum_of(cs_txn_t *txn, const uint8_t club[CS_ID_LEN], const uint8_t key[CS_KEY_LEN], char *out,
                   size_t out_len);

/* The start of a writing command: identity, store, club, and a check that
 * this node's role is one of `roles` (a bit 1 << role each) for `what`
 * ("file requests"). On failure it has printed why and ended the
 * transaction, and returns the exit code. */
int cli_begin_write(cli_t *cli, cs_txn_t *txn, uint8_t club[CS_ID_LEN], unsigned roles, const char *what);
#define CLI_ROLES_CLUB ((1u << CS_ROLE_ADMIN) | (1u << CS_ROLE_MEMBER))
#define CLI_ROLES_ANY (CLI_ROLES_CLUB | (1u << CS_ROLE_OBSERVER) | (1u << CS_ROLE_VENDOR))

/* A node restored from a backup (docs/backup.md) signs nothing in a club
 * until a session of that club has caught up with a peer since the restore:
 * restore leaves clubs/<id>/restored, and sync and serve write last-sync when
 * a session catches up. Prints why and returns CLI_DENIED, else CLI_OK. */
int cli_restored_guard(const cli_t *cli, const uint8_t club[CS_ID_LEN]);

/* Signs and commits a payload built by a command, then frees it; prints the
 * error (naming `what`) on failure. */
int cli_commit(cli_t *cli, const uint8_t club[CS_ID_LEN], cs_buf_t *payload, uint8_t change_id[CS_ID_LEN],
               const char *what);
/* The same with chosen deps (NULL: this node's heads). */
int cli_commit_deps(cli_t *cli, const uint8_t club[CS_ID_LEN], cs_buf_t *payload, const uint8_t (*deps)[CS_ID_LEN],
                    uint32_t dep_count, uint8_t change_id[CS_ID_LEN], const char *what);

/* Writes a register op that overwrites every live value of the field, which
 * is how a person resolves a conflict. */
void cli_write_overwrite(cs_buf_t *payload, const cs_object_t *obj, const uint8_t id[CS_ID_LEN], uint64_t field,
                         cs_span_t value);
void cli_write_overwrite_str(cs_buf_t *payload, const cs_object_t *obj, const uint8_t id[CS_ID_LEN],
                             uint64_t field, const char *value);

/* The changes a governed action must depend on: the motion `motion_arg`
 * (whose effect must be "<verb> <id hex>") and an adopted resolution of it.
 * Prints what to do and returns the exit code when there is none. */
int cli_decision_deps(cli_t *cli, cs_txn_t *txn, const uint8_t club[CS_ID_LEN], const char *motion_arg,
                      const char *verb, const uint8_t id[CS_ID_LEN], uint8_t deps[2][CS_ID_LEN]);

/* What an object type is called in messages ("request", "campaign" ...). */
const char *cli_type_name(uint64_t type);
/* The winning value of a text register, or "" (NUL-terminated in out). */
void cli_field_text(const cs_object_t *obj, uint64_t field, char *out, size_t out_len);

/* Signs `payload` as a new change in club (NULL: a new club), commits, and
 * returns the id. Prints nothing. */
int cli_author(cli_t *cli, const uint8_t *club, cs_span_t payload, uint8_t id_out[CS_ID_LEN]);
/* The same with chosen deps (a resolution names the ballots it counts). */
int cli_author_deps(cli_t *cli, const uint8_t *club, cs_span_t payload, const uint8_t (*deps)[CS_ID_LEN],
                    uint32_t dep_count, uint8_t id_out[CS_ID_LEN]);

int64_t cli_now_ms(void);
/* Formats a millisecond Unix time as "YYYY-MM-DD HH:MM" UTC. */
void cli_time(int64_t time_ms, char *out, size_t out_len);

/* Prints a JSON document on stdout, followed by a newline, and frees it. */
int cli_print_json(json_t *doc);
/* Prints a long JSON array one element at a time, so that it is never held
 * whole: item 0, 1, ... then the end; the output equals cli_print_json's.
 * Each takes the element's reference. */
int cli_print_json_item(json_t *doc, size_t index);
int cli_print_json_end(size_t count);
json_t *cli_json_hex(const uint8_t bytes[32]);

/* Writes a file only its owner can read, atomically; 0 or -1 with errno. */
int cli_write_private(const char *path, const void *data, size_t len);

/* Samples this process's anonymous resident memory (heap and stacks, not
 * the LMDB map or mapped files) and keeps the peak; when the environment
 * names CLUBSYNC_MEMORY_REPORT, cli_memory_report writes the peaks there
 * (`peak_anon_kib N` and `peak_rss_kib N`), for the benchmark. */
void cli_memory_sample(void);
void cli_memory_report(void);

/* Writes the node identity file (see cli_identity); 0 or -1 with errno. */
int cli_write_identity(const char *path, const uint8_t *secret_key, const char *museum, const char *region);

/* A file mapped read-only; empty files map to an empty span. */
typedef struct cli_mapped_s {
  cs_span_t bytes;
  void *addr;
  size_t len;
} cli_mapped_t;

int cli_map_file(const char *path, cli_mapped_t *m);
void cli_unmap_file(cli_mapped_t *m);

/* Paths inside the home. */
void cli_path(const cli_t *cli, const char *name, char *out, size_t out_len);

/* A campaign's tally (tools/cmd_campaign.c): the frozen results once it is
 * closed, else the live count of the ballots. */
struct cs_tally_s;
int cli_campaign_tally(cs_txn_t *txn, const uint8_t club[CS_ID_LEN], const uint8_t campaign[CS_ID_LEN],
                       struct cs_tally_s *out, bool *frozen);
/* The campaign created last, or CS_ENOTFOUND. */
int cli_latest_campaign(cs_txn_t *txn, const uint8_t club[CS_ID_LEN], uint8_t out[CS_ID_LEN]);
/* A cs_merge_fn over the store: where a merged request points. */
typedef struct cli_merge_ctx_s {
  cs_txn_t *txn;
  const uint8_t *club;
} cli_merge_ctx_t;
bool cli_merged_into(const uint8_t request[CS_ID_LEN], uint8_t into[CS_ID_LEN], void *ctx);

/* status's network side (tools/cmd_net.c): adds each club's peers,
 * connections and last sync to its object in `clubs`; returns serve's state
 * ({running, pid, listen}), and every connection and the latest sync. */
json_t *cli_network_status(cli_t *cli, json_t *clubs, json_t **connections, json_t **last_sync);

/* Help (tools/help.c): the global page, and one command family's page
 * (usage, options, an example); cli_help_known tells a family's name. */
void cli_help_global(FILE *out);
int cli_help_family(const char *name);
bool cli_help_known(const char *name);
/* A mistyped command: one line, exit 2, with "did you mean" when a known
 * word is at most two edits away. family is "command" for the top level,
 * else the family ("request"), whose subcommands `known` lists (NULL-ended). */
int cli_fail_unknown(const char *family, const char *word, const char *const *known);
/* A family given without its subcommand: one line listing them. */
int cli_fail_no_sub(const char *family, const char *const *known);

/* Command families. */
int cmd_init(cli_t *cli, cli_args_t *args);
int cmd_whoami(cli_t *cli, cli_args_t *args);
int cmd_status(cli_t *cli, cli_args_t *args);
int cmd_club(cli_t *cli, cli_args_t *args);
int cmd_member(cli_t *cli, cli_args_t *args);
int cmd_request(cli_t *cli, cli_args_t *args);
int cmd_log(cli_t *cli, cli_args_t *args);
int cmd_audit(cli_t *cli, cli_args_t *args);
int cmd_digest(cli_t *cli, cli_args_t *args);
int cmd_export(cli_t *cli, cli_args_t *args);
int cmd_import(cli_t *cli, cli_args_t *args);
int cmd_vector(cli_t *cli, cli_args_t *args);
int cmd_serve(cli_t *cli, cli_args_t *args); /* tools/cmd_net.c */
int cmd_sync(cli_t *cli, cli_args_t *args); /* tools/cmd_net.c */
int cmd_peer(cli_t *cli, cli_args_t *args); /* tools/cmd_net.c */
int cmd_club_invite(cli_t *cli, cli_args_t *args); /* tools/cmd_net.c */
int cmd_club_join(cli_t *cli, cli_args_t *args); /* tools/cmd_net.c */
int cmd_campaign(cli_t *cli, cli_args_t *args); /* tools/cmd_campaign.c */
int cmd_report(cli_t *cli, cli_args_t *args); /* tools/cmd_campaign.c */
int cmd_meeting(cli_t *cli, cli_args_t *args); /* tools/cmd_meeting.c */
int cmd_doc(cli_t *cli, cli_args_t *args); /* tools/cmd_meeting.c */
int cmd_motion(cli_t *cli, cli_args_t *args); /* tools/cmd_motion.c */
int cmd_audit_bundle(cli_t *cli, cli_args_t *args); /* tools/cmd_motion.c */
int cmd_verify(cli_t *cli, cli_args_t *args); /* tools/cmd_motion.c */
int cmd_bench(cli_t *cli, cli_args_t *args); /* tools/cmd_bench.c */
int cmd_backup(cli_t *cli, cli_args_t *args); /* tools/cmd_backup.c */
int cmd_restore(cli_t *cli, cli_args_t *args); /* tools/cmd_backup.c */

#endif

/* The command's help: one page per command family, the global page built
 * from the same table (so it lists only commands that exist), and "did you
 * mean" for a mistyped command. */
#include "tools/cli.h"

#include <string.h>

/* A family's lines on the global page (after its 10-column name), its own
 * page's extra options, and one example. */
typedef struct help_family_s {
  const char *name;
  const char *lines;
  const char *options; /* NULL: the lines say everything */
  const char *example;
} help_family_t;

#define HELP_INDENT "                                    "

static const help_family_t help_families[] = {
    {"init", "--museum NAME [--region R]         create this node's key and store\n", NULL,
     "clubsync init --museum \"Musée des Augustins\" --region Occitanie"},
    {"whoami", "                                    this node's key and museum\n", NULL, "clubsync whoami"},
    {"status", "                                    each club: counts, peers, last sync, connections\n", NULL,
     "clubsync status --json"},
    {"club",
     "create NAME [--software S]          create a club (you become its first admin)\n"
     "list                                clubs on this node; * marks the default club\n"
     "use NAME|ID                         the default club: commands act on it without --club\n"
     "invite [--role R] | join CODE       share the club's key and serve's address; join saves it as a peer\n",
     "--role admin|member|observer|vendor  the role the invitation suggests to the admin who adds the museum\n",
     "clubsync club create \"Club Flora\" --software Flora"},
    {"member",
     "add KEY --museum NAME --role admin|member|observer|vendor [--new-museum]\n"
     "                                    a NAME like an existing museum's but for case, accents or\n"
     "                                    spacing is refused; --new-museum when it is another museum\n"
     "remove KEY [--motion ID]            strong remove; an admin only by an adopted motion\n"
     "list                                members, museums and roles\n",
     NULL, "clubsync member add 3f9a…e1 --museum \"Musée Fabre\" --role member"},
    {"request",
     "add --title T [--body B] [--module M] [--kind K] [--story S] [--tag X]...\n"
     "                                    file a request (shows look-alike titles first)\n"
     "list [--status S] [--module M] [--sort recent|title|votes]\n"
     "                                    --module ignores case, accents and spacing\n"
     "show ID | edit ID [--title T] [--body B] [--module M] [--kind K] [--story S]\n"
     "status ID STATUS [--note TEXT]      move it along its lifecycle\n"
     "support ID | unsupport ID           co-sign as a museum, or stop\n"
     "merge ID --into ID2                 mark a duplicate; its support counts for ID2\n"
     "answer ID [--answer T] [--estimate E] [--target V] [--delivered V]   (vendor)\n"
     "comment ID TEXT | comment-edit CID TEXT | comment-delete CID\n",
     "--body-file FILE (- for standard input) gives a long body instead of --body, --note-file a long\n"
     "note, --body-file FILE a comment's TEXT; a body, note or comment holds at most 16 KiB\n",
     "clubsync request add --title \"Récolement par lot\" --module Récolement --body-file besoin.txt"},
    {"campaign",
     "open NAME --points N | list         a voting cycle, N points per museum\n"
     "vote CAMPAIGN REQ=POINTS...         replaces your museum's whole ballot\n"
     "vote CAMPAIGN --clear               withdraws your museum's ballot\n"
     "results CAMPAIGN | close CAMPAIGN | phase CAMPAIGN PHASE [--motion M]\n",
     NULL, "clubsync campaign vote \"Cycle 2027\" 1a2b3c4d=5 9f8e7d6c=3"},
    {"report", "[--campaign C] --format md|csv|html [--output FILE]   the list for the vendor\n", NULL,
     "clubsync report --campaign \"Cycle 2027\" --format html --output rapport.html"},
    {"meeting",
     "add --title T --date D [--place P] [--agenda REQ]... | list | show ID\n"
     "status ID S [--motion M] | attend ID | agenda ID REQ | action ID TEXT | minutes ID DOC\n",
     NULL, "clubsync meeting add --title \"Assemblée générale\" --date 2027-03-14 --place Toulouse"},
    {"doc",
     "add --title T [--body B|--body-file FILE] [--version V] | list | show ID\n"
     "edit ID [--title T] [--body B] [--version V] | status ID STATUS [--motion M]\n",
     NULL, "clubsync doc add --title \"Compte rendu AG 2027\" --body-file cr.md --version 1"},
    {"motion",
     "propose TEXT [--quorum majority|two-thirds] [--effect E] | list | show ID\n"
     "vote ID yes|no|abstain | resolve ID   counts each museum's latest ballot, once\n",
     NULL, "clubsync motion vote 5e6f7a8b yes"},
    {"audit-bundle", "ID FILE                        the motion, its ballots, resolution (and its past), membership\n",
     NULL, "clubsync audit-bundle 5e6f7a8b motion.bundle"},
    {"verify", "FILE                                check an audit bundle offline; exit 5 if anything is wrong\n", NULL,
     "clubsync verify motion.bundle"},
    {"log", "                                    the signed history: who, when, what\n", NULL, "clubsync log"},
    {"audit", "[ID]                                re-verify every signature, chain and rule\n", NULL,
     "clubsync audit"},
    {"digest", "                                    hash of the materialized club state\n", NULL, "clubsync digest"},
    {"export", "FILE [--since VECTOR-FILE]          write the club's changes to a bundle file\n", NULL,
     "clubsync export club.bundle --since leur-vecteur"},
    {"import",
     "FILE [--new-club]                   validate and merge a bundle (its club's changes only);\n"
     "                                    --new-club to hold a club this node does not hold yet\n",
     NULL, "clubsync import club.bundle"},
    {"vector", "FILE                                write what this node has, for 'export --since'\n", NULL,
     "clubsync vector mon-vecteur"},
    {"backup",
     "FILE                                copy this node (store, key, clubs' keys) into FILE, also\n"
     "                                    while serve runs; keep FILE as safe as the key (docs/backup.md)\n",
     NULL, "clubsync backup /mnt/sauvegardes/clubsync-$(date +%F).backup"},
    {"restore",
     "FILE                                bring a backup back into an empty home (docs/backup.md)\n", NULL,
     "clubsync --home /srv/clubsync restore clubsync-2027-03-14.backup"},
    {"serve",
     "[--listen IP:PORT] [--peer HOST:PORT]... [--log-level error|warn|info|debug]\n"
     "                                    run the node for every club it holds, on one port, and keep\n"
     "                                    syncing (default listen 0.0.0.0:7450); one serve per home;\n"
     "                                    --peer is for the chosen club; invites never carry 0.0.0.0\n",
     "HOST is a host name (augustins.example) or an IP address; a name is looked up each time it is dialed\n",
     "clubsync serve --listen 0.0.0.0:7450 --peer augustins.example:7450"},
    {"sync",
     "HOST:PORT                           sync the club once with a peer; exit 0 when both hold the\n"
     "                                    same changes, 130 when interrupted (it says N of M changes)\n",
     "HOST is a host name (augustins.example) or an IP address\n", "clubsync sync augustins.example:7450"},
    {"peer", "add HOST:PORT | remove HOST:PORT | list   the club's peers, that serve keeps syncing with\n",
     "HOST is a host name (augustins.example) or an IP address\n", "clubsync peer add augustins.example:7450"},
    {"bench", "[--workload club-100k|club-10k|club-2k] [--keep DIR]   the performance benchmark\n", NULL,
     "clubsync bench --workload club-2k"},
    {"help", "[COMMAND]                           this page, or one command's page\n", NULL, "clubsync help request"},
};

static const char help_head[] =
    "usage: clubsync [--home DIR] [--club ID|NAME] COMMAND [ARGS] [--json]\n"
    "       clubsync --help | COMMAND --help | help COMMAND | --version\n"
    "\n"
    "A museum's node of a user club: a signed, replicated record of the club's\n"
    "feature requests, members and decisions, kept in sync with other museums.\n"
    "\n";

static const char help_tail[] =
    "\n"
    "home: --home DIR, else $CLUBSYNC_HOME, else ~/.clubsync\n"
    "club: --club ID|NAME (an id prefix, or a name), else the default club ('club use'),\n"
    "      else the only club of the node.\n"
    "ids may be given as any unique prefix of at least 6 hex characters.\n"
    "--json makes read commands print one JSON document.\n"
    "exit codes: 0 ok, 1 error, 2 usage, 3 not authorised, 4 not found,\n"
    "            5 invalid or tampered data, 130 interrupted\n";

/* Prints a block of lines, each after `first` (the first line) or as many
 * spaces (the others). */
static void help_block(FILE *out, const char *first, const char *lines) {
  size_t width = strlen(first);
  for (const char *line = lines; *line;) {
    const char *end = strchr(line, '\n');
    size_t len = end ? (size_t)(end - line) : strlen(line);
    fprintf(out, "%-*s%.*s\n", (int)width, line == lines ? first : "", (int)len, line);
    line += len + (end ? 1 : 0);
  }
}

void cli_help_global(FILE *out) {
  fputs(help_head, out);
  for (size_t i = 0; i < CS_ARRAY_LEN(help_families); i++) {
    char name[32];
    snprintf(name, sizeof(name), "%-10s", help_families[i].name);
    if (strlen(help_families[i].name) >= 10) snprintf(name, sizeof(name), "%s ", help_families[i].name);
    help_block(out, name, help_families[i].lines);
  }
  fputs(help_tail, out);
}

static const help_family_t *help_find(const char *name) {
  for (size_t i = 0; i < CS_ARRAY_LEN(help_families); i++)
    if (strcmp(help_families[i].name, name) == 0) return &help_families[i];
  return NULL;
}

bool cli_help_known(const char *name) { return help_find(name) != NULL; }

int cli_help_family(const char *name) {
  const help_family_t *f = help_find(name);
  if (!f) return cli_fail_unknown("command", name, NULL);
  printf("usage: clubsync [--home DIR] [--club ID|NAME] %s ...\n\n", f->name);
  char first[40];
  snprintf(first, sizeof(first), "  %s ", f->name);
  /* Every line of the family as a command line of its own: the subcommands
   * start at the name's column, their notes keep theirs. */
  for (const char *line = f->lines; *line;) {
    const char *end = strchr(line, '\n');
    size_t len = end ? (size_t)(end - line) : strlen(line);
    bool note = line != f->lines && line[0] == ' ';
    printf("%-*s%.*s\n", (int)strlen(first), note ? "" : first, (int)len, line);
    line += len + (end ? 1 : 0);
  }
  if (f->options) {
    printf("\noptions:\n");
    help_block(stdout, "  ", f->options);
  }
  printf("\nexample:\n  %s\n", f->example);
  printf("\nEvery command also takes --home DIR, --club ID|NAME and --json; 'clubsync --help' lists the\n"
         "commands, the exit codes and where the home is.\n");
  return CLI_OK;
}

/* The edit distance of two words (insertions, deletions, substitutions and
 * swaps of neighbours), for "did you mean". */
static size_t help_distance(const char *a, const char *b) {
  size_t n = strlen(a), m = strlen(b);
  if (n > 40 || m > 40) return 99;
  size_t d[41][41];
  for (size_t i = 0; i <= n; i++) d[i][0] = i;
  for (size_t j = 0; j <= m; j++) d[0][j] = j;
  for (size_t i = 1; i <= n; i++)
    for (size_t j = 1; j <= m; j++) {
      size_t best = d[i - 1][j - 1] + (a[i - 1] != b[j - 1]);
      if (d[i - 1][j] + 1 < best) best = d[i - 1][j] + 1;
      if (d[i][j - 1] + 1 < best) best = d[i][j - 1] + 1;
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] && d[i - 2][j - 2] + 1 < best)
        best = d[i - 2][j - 2] + 1;
      d[i][j] = best;
    }
  return d[n][m];
}

int cli_fail_unknown(const char *family, const char *word, const char *const *known) {
  const char *best = NULL;
  size_t best_d = 3; /* two edits at most: more is another word, not a typo */
  size_t count = known ? 0 : CS_ARRAY_LEN(help_families);
  if (known)
    while (known[count]) count++;
  for (size_t i = 0; i < count; i++) {
    const char *candidate = known ? known[i] : help_families[i].name;
    size_t d = help_distance(word, candidate);
    if (d < best_d && d < strlen(candidate)) {
      best_d = d;
      best = candidate;
    }
  }
  bool top = strcmp(family, "command") == 0;
  char see[64];
  snprintf(see, sizeof(see), top ? "clubsync --help" : "clubsync %s --help", family);
  if (best)
    return cli_fail(CLI_USAGE, "unknown %s%s '%s'; did you mean '%s'? (see '%s')", top ? "" : family,
                    top ? "command" : " command", word, best, see);
  return cli_fail(CLI_USAGE, "unknown %s%s '%s'; see '%s'", top ? "" : family, top ? "command" : " command", word,
                  see);
}

int cli_fail_no_sub(const char *family, const char *const *known) {
  char list[256] = "";
  size_t at = 0;
  for (size_t i = 0; known[i] && at < sizeof(list); i++) {
    int n = snprintf(list + at, sizeof(list) - at, "%s%s", i ? ", " : "", known[i]);
    if (n < 0) break;
    at += (size_t)n;
  }
  return cli_fail(CLI_USAGE, "%s needs a command: %s (see 'clubsync %s --help')", family, list, family);
}

/* clubsync: a museum's node of a user club. Entry point and dispatch. */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "tools/cli.h"

/* The project's version (CMakeLists.txt, project()), given by the build. */
#ifndef CS_VERSION
#error "CS_VERSION is defined by CMakeLists.txt from the project's version"
#endif

static const char cli_usage[] =
    "usage: clubsync [--home DIR] [--club ID|NAME] COMMAND [ARGS] [--json]\n"
    "       clubsync --help | --version\n"
    "\n"
    "A museum's node of a user club: a signed, replicated record of the club's\n"
    "feature requests, members and decisions, kept in sync with other museums.\n"
    "\n"
    "node      init --museum NAME [--region R]    create this node's key and store\n"
    "          whoami | status                     identity; each club: counts, peers, last sync, connections\n"
    "club      create NAME [--software S]          create a club (you become its first admin)\n"
    "          list                                clubs on this node; * marks the default club\n"
    "          use NAME|ID                         the default club: commands act on it without --club\n"
    "          invite [--role R] | join CODE       share the club's key and serve's address; join saves it as a peer\n"
    "member    add KEY --museum NAME --role admin|member|observer|vendor [--new-museum]\n"
    "                                              a NAME like an existing museum's but for case, accents or\n"
    "                                              spacing is refused; --new-museum when it is another museum\n"
    "          remove KEY [--motion ID]           strong remove; an admin only by an adopted motion\n"
    "          list                                members, museums and roles\n"
    "request   add --title T [--body B] [--module M] [--kind K] [--story S] [--tag X]...\n"
    "                                              file a request (shows look-alike titles first)\n"
    "          list [--status S] [--module M] [--sort recent|title|votes]\n"
    "                                              --module ignores case, accents and spacing\n"
    "          show ID | edit ID [--title T] [--body B] [--module M] [--kind K] [--story S]\n"
    "          status ID STATUS [--note TEXT]      move it along its lifecycle\n"
    "          --body-file FILE (- for standard input) gives a long body instead of --body,\n"
    "          --note-file a long note; a body, note or comment holds at most 16 KiB\n"
    "          support ID | unsupport ID           co-sign as a museum, or stop\n"
    "          merge ID --into ID2                 mark a duplicate; its support counts for ID2\n"
    "          answer ID [--answer T] [--estimate E] [--target V] [--delivered V]   (vendor)\n"
    "          comment ID TEXT | comment-edit CID TEXT | comment-delete CID   (or --body-file FILE for TEXT)\n"
    "campaign  open NAME --points N | list       a voting cycle, N points per museum\n"
    "          vote CAMPAIGN REQ=POINTS...       replaces your museum's whole ballot\n"
    "          vote CAMPAIGN --clear             withdraws your museum's ballot\n"
    "          results CAMPAIGN | close CAMPAIGN | phase CAMPAIGN PHASE [--motion M]\n"
    "report    [--campaign C] --format md|csv|html [--output FILE]   the list for the vendor\n"
    "meeting   add --title T --date D [--place P] [--agenda REQ]... | list | show ID\n"
    "          status ID S [--motion M] | attend ID | agenda ID REQ | action ID TEXT | minutes ID DOC\n"
    "doc       add --title T [--body B|--body-file FILE] [--version V] | list | show ID\n"
    "          edit ID [--title T] [--body B] [--version V] | status ID STATUS [--motion M]\n"
    "motion    propose TEXT [--quorum majority|two-thirds] [--effect E] | list | show ID\n"
    "          vote ID yes|no|abstain | resolve ID   counts each museum's latest ballot, once\n"
    "audit-bundle ID FILE                          the motion, its ballots, resolution (and its past), membership\n"
    "verify    FILE                                check an audit bundle offline; exit 5 if anything is wrong\n"
    "log                                           the signed history: who, when, what\n"
    "audit     [ID]                                re-verify every signature, chain and rule\n"
    "digest                                        hash of the materialized club state\n"
    "export    FILE [--since VECTOR-FILE]          write the club's changes to a bundle file\n"
    "import    FILE [--new-club]                   validate and merge a bundle (its club's changes only);\n"
    "                                              --new-club to hold a club this node does not hold yet\n"
    "vector    FILE                                write what this node has, for 'export --since'\n"
    "serve     [--listen IP:PORT] [--peer IP:PORT]... [--log-level error|warn|info|debug]\n"
    "                                              run the node for every club it holds, on one port, and keep\n"
    "                                              syncing (default listen 0.0.0.0:7450); one serve per home;\n"
    "                                              --peer is for the chosen club; invites never carry 0.0.0.0\n"
    "sync      IP:PORT                             sync the club once with a peer; exit 0 when both hold the\n"
    "                                              same changes, 130 when interrupted (it says N of M changes)\n"
    "peer      add IP:PORT | remove IP:PORT | list the club's peers, that serve keeps syncing with\n"
    "bench     [--workload club-100k|club-10k|club-2k] [--keep DIR]   the performance benchmark\n"
    "\n"
    "home: --home DIR, else $CLUBSYNC_HOME, else ~/.clubsync\n"
    "club: --club ID|NAME (an id prefix, or a name), else the default club ('club use'),\n"
    "      else the only club of the node.\n"
    "ids may be given as any unique prefix of at least 6 hex characters.\n"
    "--json makes read commands print one JSON document.\n"
    "exit codes: 0 ok, 1 error, 2 usage, 3 not authorised, 4 not found,\n"
    "            5 invalid or tampered data, 130 interrupted\n";

typedef struct cli_command_s {
  const char *name;
  int (*run)(cli_t *cli, cli_args_t *args);
} cli_command_t;

static const cli_command_t cli_commands[] = {
    {"init", cmd_init},     {"whoami", cmd_whoami}, {"status", cmd_status}, {"club", cmd_club},
    {"member", cmd_member}, {"request", cmd_request}, {"log", cmd_log},     {"audit", cmd_audit},
    {"digest", cmd_digest}, {"export", cmd_export}, {"import", cmd_import}, {"vector", cmd_vector},
    {"serve", cmd_serve},   {"sync", cmd_sync},     {"peer", cmd_peer},     {"campaign", cmd_campaign},
    {"report", cmd_report}, {"meeting", cmd_meeting}, {"doc", cmd_doc},     {"motion", cmd_motion},
    {"audit-bundle", cmd_audit_bundle}, {"verify", cmd_verify}, {"bench", cmd_bench},
};

int main(int argc, char **argv) {
  if (sodium_init() < 0) return cli_fail(CLI_ERROR, "cannot initialise libsodium");
  cli_t cli;
  memset(&cli, 0, sizeof(cli));
  cli_args_t args = {argc - 1, argv + 1};
  if (cli_flag(&args, "--help") || cli_flag(&args, "-h") || args.argc == 0) {
    fputs(cli_usage, args.argc == 0 && argc == 1 ? stderr : stdout);
    return argc == 1 ? CLI_USAGE : CLI_OK;
  }
  const char *home = cli_take(&args, "--home");
  cli.club_arg = cli_take(&args, "--club");
  cli.json = cli_flag(&args, "--json");
  /* Only in the command's place: `doc add --version V` is a document's. */
  if (args.argc > 0 && strcmp(args.argv[0], "--version") == 0) {
    puts("clubsync " CS_VERSION);
    return CLI_OK;
  }
  if ((home && !*home) || (cli.club_arg && !*cli.club_arg))
    return cli_fail(CLI_USAGE, "--home and --club need a value");
  if (!home) home = getenv("CLUBSYNC_HOME");
  if (home && *home) {
    snprintf(cli.home, sizeof(cli.home), "%s", home);
  } else {
    const char *user_home = getenv("HOME");
    snprintf(cli.home, sizeof(cli.home), "%s/.clubsync", user_home ? user_home : ".");
  }
  const char *name = cli_next(&args);
  if (!name) return cli_fail(CLI_USAGE, "no command given; see 'clubsync --help'");
  for (size_t i = 0; i < CS_ARRAY_LEN(cli_commands); i++) {
    if (strcmp(name, cli_commands[i].name) != 0) continue;
    int code = cli_commands[i].run(&cli, &args);
    cli_close(&cli);
    cli_memory_report();
    return code;
  }
  return cli_fail(CLI_USAGE, "unknown command '%s'; see 'clubsync --help'", name);
}

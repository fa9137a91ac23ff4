/* clubsync: a museum's node of a user club. Entry point and dispatch. */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "tools/cli.h"

/* The project's version (CMakeLists.txt, project()), given by the build. */
#ifndef CS_VERSION
#error "CS_VERSION is defined by CMakeLists.txt from the project's version"
#endif

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
    {"backup", cmd_backup}, {"restore", cmd_restore},
};

/* `--help` after a command asks for that command's page: the first word
 * that is not a global option's value names it. */
static bool main_help_topic_after(const cli_args_t *args, int at) {
  for (int i = at + 1; i < args->argc; i++)
    if (args->argv[i][0] != '-') return true;
  return false;
}

static const char *main_help_topic(const cli_args_t *args) {
  for (int i = 0; i < args->argc; i++) {
    const char *a = args->argv[i];
    if (strcmp(a, "--home") == 0 || strcmp(a, "--club") == 0) {
      i++;
      continue;
    }
    /* `help X --help` is X's page, `help --help` help's own. */
    if (a[0] != '-' && (strcmp(a, "help") != 0 || !main_help_topic_after(args, i))) return a;
  }
  return NULL;
}

int main(int argc, char **argv) {
  if (sodium_init() < 0) return cli_fail(CLI_ERROR, "cannot initialise libsodium");
  cli_t cli;
  memset(&cli, 0, sizeof(cli));
  cli_args_t args = {argc - 1, argv + 1};
  if (args.argc == 0) {
    cli_help_global(stderr);
    return CLI_USAGE;
  }
  if (cli_flag(&args, "--help") || cli_flag(&args, "-h")) {
    const char *topic = main_help_topic(&args);
    if (topic) return cli_help_family(topic);
    cli_help_global(stdout);
    return CLI_OK;
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
  if (strcmp(name, "help") == 0) {
    const char *topic = cli_next(&args);
    if (args.argc > 0) return cli_fail(CLI_USAGE, "unexpected argument '%s'; usage: clubsync help [COMMAND]",
                                       args.argv[0]);
    if (topic) return cli_help_family(topic);
    cli_help_global(stdout);
    return CLI_OK;
  }
  for (size_t i = 0; i < CS_ARRAY_LEN(cli_commands); i++) {
    if (strcmp(name, cli_commands[i].name) != 0) continue;
    int code = cli_commands[i].run(&cli, &args);
    cli_close(&cli);
    cli_memory_report();
    return code;
  }
  return cli_fail_unknown("command", name, NULL);
}

/* A small program serving a demo page with the web server library, for
 * the browser tests (tests/browser/demo.test.mjs) and for trying the
 * server by hand. It owns its loop and its signals, as `clubsync serve`
 * will: the library has neither.
 *
 *   web_demo_server --home DIR [--listen 127.0.0.1:0]
 *
 * Prints "port N" and then "login URL" (a one-time login link) on stdout,
 * serves until SIGINT or SIGTERM, then stops the server and exits 0.
 *
 * | ROUTE                  | WHAT                                                 |
 * |------------------------|------------------------------------------------------|
 * | GET /                  | the demo page (tests/browser/demo/index.html)        |
 * | GET /demo/NAME         | the demo page's script                                |
 * | GET /assets/NAME       | the UI's shared assets (tools/web/assets/)            |
 * | POST /api/demo/requests| {"title": ...}: answers, and sends an event           |
 * | GET /api/events        | the "changes" event stream                            | */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <jansson.h>

#include "tools/web/web.h"

extern const cs_web_asset_table_t cs_web_demo_assets;

typedef struct demo_s {
  uv_loop_t *loop;
  cs_web_server_t *server;
  uv_signal_t sigint, sigterm;
  unsigned filed;
} demo_t;

static void log_line(void *ctx, cs_web_log_level_t level, const char *line) {
  (void)ctx;
  (void)level;
  fprintf(stderr, "%s\n", line);
}

static void file_request(cs_web_request_t *req, void *ctx) {
  demo_t *demo = ctx;
  size_t len;
  const uint8_t *body = cs_web_body(req, &len);
  json_error_t error;
  json_t *doc = json_loadb((const char *)body, len, 0, &error);
  const char *title = json_string_value(json_object_get(doc, "title"));
  if (!title || !title[0] || strlen(title) > 400) {
    json_decref(doc);
    cs_web_respond_error(req, 422, "a title of 1 to 400 bytes is needed");
    return;
  }
  demo->filed++;
  json_t *answer = json_pack("{s:s, s:s, s:I}", "message", "Demande déposée", "title", title, "number",
                             (json_int_t)demo->filed);
  char *text = json_dumps(answer, JSON_COMPACT);
  if (text) {
    cs_web_sse_publish(demo->server, "changes", "request", text);
    cs_web_respond(req, 201, "application/json", text, strlen(text));
  } else {
    cs_web_respond_error(req, 500, "cannot build the answer");
  }
  free(text);
  json_decref(answer);
  json_decref(doc);
}

static void events(cs_web_request_t *req, void *ctx) {
  (void)ctx;
  cs_web_sse_start(req, "changes");
}

static void on_stopped(cs_web_server_t *server, void *ctx) {
  (void)server;
  demo_t *demo = ctx;
  uv_close((uv_handle_t *)&demo->sigint, NULL);
  uv_close((uv_handle_t *)&demo->sigterm, NULL);
}

static void on_signal(uv_signal_t *signal, int signum) {
  (void)signum;
  demo_t *demo = signal->data;
  uv_signal_stop(&demo->sigint);
  uv_signal_stop(&demo->sigterm);
  cs_web_server_stop(demo->server, on_stopped, demo);
}

int main(int argc, char **argv) {
  const char *home = NULL, *listen = "127.0.0.1:0";
  for (int i = 1; i + 1 < argc; i += 2) {
    if (strcmp(argv[i], "--home") == 0) home = argv[i + 1];
    else if (strcmp(argv[i], "--listen") == 0) listen = argv[i + 1];
  }
  if (!home) {
    fprintf(stderr, "usage: %s --home DIR [--listen HOST:PORT]\n", argv[0]);
    return 2;
  }
  mkdir(home, 0700);
  char login_dir[4096];
  snprintf(login_dir, sizeof(login_dir), "%s/ui-login", home);
  demo_t demo = {.loop = uv_default_loop()};
  cs_web_config_t config = {.listen = listen, .node_tag = "de300001", .login_dir = login_dir, .log = log_line};
  int rc = cs_web_server_new(demo.loop, &config, &demo.server);
  if (rc == CS_OK) rc = cs_web_route_asset(demo.server, "/", 0, &cs_web_demo_assets, "index.html");
  if (rc == CS_OK) rc = cs_web_mount_assets(demo.server, "/demo/", &cs_web_demo_assets, NULL);
  if (rc == CS_OK) rc = cs_web_mount_assets(demo.server, "/assets/", &cs_web_assets, NULL);
  if (rc == CS_OK)
    rc = cs_web_route(demo.server, CS_WEB_POST, "/api/demo/requests", 0, 4096, file_request, &demo);
  if (rc == CS_OK) rc = cs_web_route(demo.server, CS_WEB_GET, "/api/events", 0, 0, events, &demo);
  if (rc != CS_OK) {
    fprintf(stderr, "web_demo_server: cannot set up the server: %s\n", cs_strerror(rc));
    return 1;
  }
  rc = cs_web_server_start(demo.server);
  if (rc != CS_OK) {
    fprintf(stderr, "web_demo_server: %s\n", cs_web_server_reason(demo.server));
    cs_web_server_free(demo.server);
    return 1;
  }
  char token[CS_WEB_SECRET_HEX + 1];
  if (cs_web_login_token_mint(login_dir, (uint64_t)time(NULL), token) != CS_OK) {
    fprintf(stderr, "web_demo_server: cannot write a login token in %s\n", login_dir);
    return 1;
  }
  printf("port %d\n", cs_web_server_port(demo.server));
  printf("http://127.0.0.1:%d/login?token=%s\n", cs_web_server_port(demo.server), token);
  fflush(stdout);
  uv_signal_init(demo.loop, &demo.sigint);
  uv_signal_init(demo.loop, &demo.sigterm);
  demo.sigint.data = demo.sigterm.data = &demo;
  uv_signal_start(&demo.sigint, on_signal, SIGINT);
  uv_signal_start(&demo.sigterm, on_signal, SIGTERM);
  uv_run(demo.loop, UV_RUN_DEFAULT);
  cs_web_server_free(demo.server);
  uv_loop_close(demo.loop);
  return 0;
}

/* Routes, the checks every request passes before its handler, and the
 * request's accessors.
 *
 * The checks run when a request's headers are complete, before its body is
 * read, so a refused request never makes the server read or store a body:
 *
 * | ORDER | CHECK                                              | REFUSED WITH |
 * |-------|----------------------------------------------------|--------------|
 * | 1     | a method the server knows                          | 405          |
 * | 2     | the target is a path (origin-form)                 | 400          |
 * | 3     | exactly one Host, naming this server               | 400, 403     |
 * | 4     | a route for the path, and for the method           | 404, 405     |
 * | 5     | not GET or HEAD: Origin is this server's own       | 403          |
 * | 6     | a route that is not public: a session cookie       | 401 (API),   |
 * |       |                                                    | 303 /login   |
 * | 7     | not public, not GET or HEAD: X-CSRF-Token          | 403          |
 * | 8     | the body fits the route's bound                    | 413          |
 * | 9     | Expect is absent or 100-continue                   | 417          | */
#include "tools/web/web_int.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const char *const method_names[] = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"};
_Static_assert(sizeof(method_names) / sizeof(method_names[0]) == CS_WEB_METHOD_COUNT, "one name per method");

const char *cs_web__method_name(cs_web_method_t method) {
  return method < CS_WEB_METHOD_COUNT ? method_names[method] : "-";
}

bool cs_web__method_from_llhttp(uint8_t method, cs_web_method_t *out) {
  switch (method) {
  case HTTP_GET: *out = CS_WEB_GET; return true;
  case HTTP_HEAD: *out = CS_WEB_HEAD; return true;
  case HTTP_POST: *out = CS_WEB_POST; return true;
  case HTTP_PUT: *out = CS_WEB_PUT; return true;
  case HTTP_PATCH: *out = CS_WEB_PATCH; return true;
  case HTTP_DELETE: *out = CS_WEB_DELETE; return true;
  default: return false;
  }
}

static int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool cs_web__decode(const char *in, size_t len, bool plus, char *out, size_t out_len) {
  size_t n = 0;
  for (size_t i = 0; i < len; i++) {
    char c = in[i];
    if (c == '%') {
      if (i + 2 >= len) return false;
      int hi = hex_value(in[i + 1]), lo = hex_value(in[i + 2]);
      if (hi < 0 || lo < 0) return false;
      c = (char)(hi << 4 | lo);
      i += 2;
    } else if (c == '+' && plus) {
      c = ' ';
    }
    if (c == '\0' || n + 1 >= out_len) return false;
    out[n++] = c;
  }
  if (out_len == 0) return false;
  out[n] = '\0';
  return true;
}

bool cs_web__is_loopback_host(const char *host) {
  unsigned char addr[16];
  if (strcmp(host, "localhost") == 0) return true;
  if (uv_inet_pton(AF_INET, host, addr) == 0) return addr[0] == 127;
  if (uv_inet_pton(AF_INET6, host, addr) == 0) {
    static const unsigned char one[16] = {[15] = 1};
    return memcmp(addr, one, sizeof(one)) == 0;
  }
  return false;
}

/* ---- Routes. ------------------------------------------------------------- */

static bool pattern_valid(const char *pattern) {
  size_t len = strlen(pattern);
  if (len == 0 || len >= CS_WEB__PATTERN_MAX || pattern[0] != '/') return false;
  const char *star = strchr(pattern, '*');
  if (star && (star[1] != '\0' || star[-1] != '/')) return false;
  return true;
}

static cs_web__route_t *route_add(cs_web_server_t *server, cs_web_method_t method, const char *pattern,
                                  unsigned flags, size_t body_max) {
  if (server->route_count == CS_WEB_ROUTES_MAX || method >= CS_WEB_METHOD_COUNT || !pattern_valid(pattern) ||
      body_max > CS_WEB_BODY_MAX)
    return NULL;
  cs_web__route_t *route = &server->routes[server->route_count++];
  memset(route, 0, sizeof(*route));
  route->method = method;
  snprintf(route->pattern, sizeof(route->pattern), "%s", pattern);
  route->flags = flags;
  route->body_max = body_max;
  return route;
}

int cs_web_route(cs_web_server_t *server, cs_web_method_t method, const char *pattern, unsigned flags,
                 size_t body_max, cs_web_handler_cb handler, void *ctx) {
  if (!handler) return CS_EINVAL;
  cs_web__route_t *route = route_add(server, method, pattern, flags, body_max);
  if (!route) return CS_EINVAL;
  route->kind = ROUTE_HANDLER;
  route->handler = handler;
  route->ctx = ctx;
  return CS_OK;
}

int cs_web_mount_assets(cs_web_server_t *server, const char *prefix, const cs_web_asset_table_t *table,
                        const char *index) {
  char pattern[CS_WEB__PATTERN_MAX];
  size_t len = strlen(prefix);
  if (!table || len == 0 || prefix[len - 1] != '/' ||
      (size_t)snprintf(pattern, sizeof(pattern), "%s*", prefix) >= sizeof(pattern))
    return CS_EINVAL;
  if (index && !cs_web__asset_find(table, index, strlen(index))) return CS_ENOTFOUND;
  cs_web__route_t *route = route_add(server, CS_WEB_GET, pattern, CS_WEB_PUBLIC, 0);
  if (!route) return CS_EINVAL;
  route->kind = ROUTE_ASSETS;
  route->assets = table;
  snprintf(route->asset, sizeof(route->asset), "%s", index ? index : "");
  return CS_OK;
}

int cs_web_route_asset(cs_web_server_t *server, const char *path, unsigned flags, const cs_web_asset_table_t *table,
                       const char *asset) {
  if (!table || !asset || strchr(path, '*') || strchr(path, '{') || !cs_web__asset_find(table, asset, strlen(asset)))
    return CS_EINVAL;
  cs_web__route_t *route = route_add(server, CS_WEB_GET, path, flags, 0);
  if (!route) return CS_EINVAL;
  route->kind = ROUTE_ASSET;
  route->assets = table;
  snprintf(route->asset, sizeof(route->asset), "%s", asset);
  return CS_OK;
}

int cs_web_route_upload(cs_web_server_t *server, const char *pattern, const char *dir, uint64_t max_bytes,
                        cs_web_handler_cb handler, void *ctx) {
  if (!handler || !dir || max_bytes == 0 || strlen(dir) + 32 >= CS_WEB__PATH_MAX) return CS_EINVAL;
  cs_web__route_t *route = route_add(server, CS_WEB_POST, pattern, 0, 0);
  if (!route) return CS_EINVAL;
  if (!(route->upload_dir = strdup(dir))) {
    server->route_count--;
    return CS_ENOMEM;
  }
  route->kind = ROUTE_UPLOAD;
  route->upload_max = max_bytes;
  route->handler = handler;
  route->ctx = ctx;
  return CS_OK;
}

/* Matches `path` (path_len bytes, in the request's arena at path_off)
 * against a pattern, recording the parameters. */
static bool pattern_match(const char *pattern, cs_web_request_t *req, uint32_t path_off, size_t path_len) {
  const char *path = req->arena + path_off;
  size_t pi = 0, si = 0, plen = strlen(pattern);
  req->param_count = 0;
  while (pi < plen) {
    if (pattern[pi] == '*') {
      req->param_names[req->param_count] = "*";
      req->param_name_lens[req->param_count] = 1;
      req->params[req->param_count].off = path_off + (uint32_t)si;
      req->params[req->param_count].len = (uint32_t)(path_len - si);
      req->param_count++;
      return true;
    }
    if (pattern[pi] == '{') {
      const char *close = strchr(pattern + pi, '}');
      if (!close || req->param_count == CS_WEB__PARAMS_MAX) return false;
      size_t start = si;
      while (si < path_len && path[si] != '/') si++;
      if (si == start) return false;
      req->param_names[req->param_count] = pattern + pi + 1;
      req->param_name_lens[req->param_count] = (size_t)(close - pattern - pi - 1);
      req->params[req->param_count].off = path_off + (uint32_t)start;
      req->params[req->param_count].len = (uint32_t)(si - start);
      req->param_count++;
      pi = (size_t)(close - pattern) + 1;
      continue;
    }
    if (si >= path_len || path[si] != pattern[pi]) return false;
    pi++;
    si++;
  }
  return si == path_len;
}

static bool host_is_ip_literal_with_port(const char *host, int port) {
  char addr[64];
  const char *colon;
  int family;
  if (host[0] == '[') {
    const char *end = strchr(host, ']');
    if (!end || end[1] != ':' || (size_t)(end - host - 1) >= sizeof(addr)) return false;
    memcpy(addr, host + 1, (size_t)(end - host - 1));
    addr[end - host - 1] = '\0';
    colon = end + 1;
    family = AF_INET6;
  } else {
    colon = strrchr(host, ':');
    if (!colon || (size_t)(colon - host) >= sizeof(addr)) return false;
    memcpy(addr, host, (size_t)(colon - host));
    addr[colon - host] = '\0';
    family = AF_INET;
  }
  unsigned char bytes[16];
  if (uv_inet_pton(family, addr, bytes) != 0) return false;
  char *end = NULL;
  long p = strtol(colon + 1, &end, 10);
  return colon[1] != '\0' && *end == '\0' && p == port;
}

/* DNS rebinding: a page of another site that rebinds its name to this
 * address still sends its own name as Host. On a loopback address only
 * the loopback names (and the caller's extra names) pass; on another
 * address, password-protected, an IP literal with our port passes too,
 * since an address cannot be rebound. */
static bool host_allowed(const cs_web_server_t *server, const char *host) {
  for (uint32_t i = 0; i < server->host_count; i++)
    if (strcasecmp(server->hosts[i], host) == 0) return true;
  return !server->loopback && host_is_ip_literal_with_port(host, server->port);
}

static bool origin_allowed(const char *origin, const char *host) {
  const char *schemes[] = {"http://", "https://"};
  for (size_t i = 0; i < 2; i++) {
    size_t n = strlen(schemes[i]);
    if (strncasecmp(origin, schemes[i], n) == 0 && strcasecmp(origin + n, host) == 0) return true;
  }
  return false;
}

static void refuse_fmt(cs_web_request_t *req, int status, const char *fmt, const char *arg) {
  if (req->error_status) return;
  req->error_status = status;
  char safe[96];
  size_t n = 0;
  for (const char *p = arg ? arg : ""; *p && n + 1 < sizeof(safe) && n < 80; p++)
    safe[n++] = (*p >= 0x20 && *p < 0x7f) ? *p : '?';
  safe[n] = '\0';
  snprintf(req->error_reason, sizeof(req->error_reason), fmt, safe);
}

static size_t header_count(const cs_web_request_t *req, const char *name) {
  size_t n = 0;
  for (uint32_t i = 0; i < req->header_count; i++)
    if (strcasecmp(req->arena + req->headers[i].name.off, name) == 0) n++;
  return n;
}

void cs_web__admit(cs_web_request_t *req, llhttp_t *parser) {
  cs_web__conn_t *conn = req->conn;
  cs_web_server_t *server = conn->server;
  cs_web_method_t method;
  if (!cs_web__method_from_llhttp(llhttp_get_method(parser), &method)) {
    refuse_fmt(req, 405, "method %s is not supported", llhttp_method_name((llhttp_method_t)llhttp_get_method(parser)));
    return;
  }
  req->method = method;
  req->head = method == CS_WEB_HEAD;
  const char *url = req->arena + req->url.off;
  if (req->url.len == 0 || url[0] != '/') {
    refuse_fmt(req, 400, "the request target must be a path%s", "");
    return;
  }
  req->path_len = strcspn(url, "?");
  /* The path becomes a string of its own; the query stays after it. */
  if (req->path_len < req->url.len) req->arena[req->url.off + req->path_len] = '\0';
  size_t hosts = header_count(req, "host");
  const char *host = cs_web_header(req, "host");
  if (hosts != 1) {
    refuse_fmt(req, 400, hosts ? "more than one Host header%s" : "no Host header%s", "");
    return;
  }
  if (!host_allowed(server, host)) {
    refuse_fmt(req, 403, "Host \"%s\" is not this server's name (DNS rebinding?)", host);
    return;
  }
  const cs_web__route_t *route = NULL;
  char allow[64] = "";
  for (uint32_t i = 0; i < server->route_count; i++) {
    const cs_web__route_t *r = &server->routes[i];
    if (!pattern_match(r->pattern, req, req->url.off, req->path_len)) continue;
    if (r->method == method || (r->method == CS_WEB_GET && method == CS_WEB_HEAD)) {
      route = r;
      break;
    }
    if (!strstr(allow, cs_web__method_name(r->method))) {
      size_t n = strlen(allow);
      snprintf(allow + n, sizeof(allow) - n, "%s%s", n ? ", " : "", cs_web__method_name(r->method));
      if (r->method == CS_WEB_GET) {
        n = strlen(allow);
        snprintf(allow + n, sizeof(allow) - n, ", HEAD");
      }
    }
  }
  if (!route) {
    if (allow[0]) {
      snprintf(req->allow, sizeof(req->allow), "%s", allow);
      refuse_fmt(req, 405, "this path does not take %s", cs_web__method_name(method));
    } else {
      refuse_fmt(req, 404, "no such page or resource%s", "");
    }
    return;
  }
  /* pattern_match ran over later routes too: match the chosen one again. */
  pattern_match(route->pattern, req, req->url.off, req->path_len);
  req->route = route;
  bool safe_method = method == CS_WEB_GET || method == CS_WEB_HEAD;
  if (!safe_method) {
    const char *origin = cs_web_header(req, "origin");
    if (!origin) {
      refuse_fmt(req, 403, "a %s without an Origin header (cross-site request?)", cs_web__method_name(method));
      return;
    }
    if (header_count(req, "origin") != 1 || !origin_allowed(origin, host)) {
      refuse_fmt(req, 403, "Origin \"%s\" is not this server's (cross-site request?)", origin);
      return;
    }
  }
  if (!(route->flags & CS_WEB_PUBLIC)) {
    req->session = cs_web__session_find(server, req);
    if (req->session < 0) {
      /* A page sends the browser to the login page; an API call gets 401. */
      bool page = safe_method && strncmp(url, "/api/", 5) != 0;
      refuse_fmt(req, page ? 303 : 401, "no session: open the UI with the link `clubsync ui` prints%s", "");
      return;
    }
    if (!safe_method && !cs_web__csrf_ok(server, req)) {
      refuse_fmt(req, 403, "missing or wrong X-CSRF-Token%s", "");
      return;
    }
  }
  bool has_body = (parser->flags & F_CHUNKED) || parser->content_length > 0;
  uint64_t body_max = route->kind == ROUTE_UPLOAD ? route->upload_max : route->body_max;
  if (has_body && ((parser->flags & F_CONTENT_LENGTH && parser->content_length > body_max) || body_max == 0)) {
    char limit[48];
    snprintf(limit, sizeof(limit), "%llu", (unsigned long long)body_max);
    refuse_fmt(req, 413, "the body is over this resource's %s bytes", limit);
    return;
  }
  req->body_max = route->body_max;
  const char *expect = cs_web_header(req, "expect");
  if (expect) {
    if (strcasecmp(expect, "100-continue") != 0) {
      refuse_fmt(req, 417, "Expect \"%s\" is not supported", expect);
      return;
    }
    if (has_body) {
      static const char line[] = "HTTP/1.1 100 Continue\r\n\r\n";
      char *copy = malloc(sizeof(line) - 1);
      if (copy) {
        memcpy(copy, line, sizeof(line) - 1);
        cs_web__conn_write(conn, copy, sizeof(line) - 1, NULL, 0);
      }
    }
  }
}

void cs_web__dispatch(cs_web_request_t *req) {
  if (req->error_status) {
    if (req->error_status == 303) cs_web_header_add(req, "Location", "/login");
    cs_web_respond_error(req, req->error_status, req->error_reason);
    return;
  }
  const cs_web__route_t *route = req->route;
  switch (route->kind) {
  case ROUTE_HANDLER: route->handler(req, route->ctx); return;
  case ROUTE_ASSET:
    cs_web__serve_asset(req, cs_web__asset_find(route->assets, route->asset, strlen(route->asset)));
    return;
  case ROUTE_ASSETS: {
    const cs_web__span_t *rest = &req->params[req->param_count - 1];
    const char *name = req->arena + rest->off;
    size_t len = rest->len;
    if (len == 0 && route->asset[0]) {
      name = route->asset;
      len = strlen(name);
    }
    cs_web__serve_asset(req, len ? cs_web__asset_find(route->assets, name, len) : NULL);
    return;
  }
  case ROUTE_UPLOAD:
    cs_web__upload_finish(req);
    if (req->answered) return;
    route->handler(req, route->ctx);
    return;
  }
}

/* ---- Accessors. ---------------------------------------------------------- */

cs_web_method_t cs_web_method(const cs_web_request_t *req) { return req->method; }

const char *cs_web_path(const cs_web_request_t *req) { return req->arena + req->url.off; }

const char *cs_web_query(const cs_web_request_t *req) {
  if (req->path_len >= req->url.len) return "";
  return req->arena + req->url.off + req->path_len + 1;
}

const char *cs_web_header(const cs_web_request_t *req, const char *name) {
  for (uint32_t i = 0; i < req->header_count; i++)
    if (strcasecmp(req->arena + req->headers[i].name.off, name) == 0) return req->arena + req->headers[i].value.off;
  return NULL;
}

bool cs_web_param(const cs_web_request_t *req, const char *name, char *out, size_t out_len) {
  size_t name_len = strlen(name);
  for (uint32_t i = 0; i < req->param_count; i++) {
    if (req->param_name_lens[i] != name_len || memcmp(req->param_names[i], name, name_len) != 0) continue;
    if (!cs_web__decode(req->arena + req->params[i].off, req->params[i].len, false, out, out_len)) return false;
    return strcmp(name, "*") == 0 || !strchr(out, '/');
  }
  return false;
}

/* Finds `name` in "a=1&b=2" and decodes its value. */
static bool pairs_find(const char *text, size_t len, const char *name, char *out, size_t out_len) {
  size_t pos = 0, name_len = strlen(name);
  char key[128];
  while (pos < len) {
    size_t end = pos;
    while (end < len && text[end] != '&') end++;
    size_t eq = pos;
    while (eq < end && text[eq] != '=') eq++;
    if (cs_web__decode(text + pos, eq - pos, true, key, sizeof(key)) && strlen(key) == name_len &&
        memcmp(key, name, name_len) == 0) {
      size_t value_at = eq < end ? eq + 1 : end;
      return cs_web__decode(text + value_at, end - value_at, true, out, out_len);
    }
    pos = end + 1;
  }
  return false;
}

bool cs_web_query_param(const cs_web_request_t *req, const char *name, char *out, size_t out_len) {
  const char *query = cs_web_query(req);
  size_t len = req->path_len < req->url.len ? req->url.len - req->path_len - 1 : 0;
  return pairs_find(query, len, name, out, out_len);
}

bool cs_web_form_param(const cs_web_request_t *req, const char *name, char *out, size_t out_len) {
  const char *type = cs_web_header(req, "content-type");
  if (!type || strncasecmp(type, "application/x-www-form-urlencoded", 33) != 0 || !req->body) return false;
  return pairs_find((const char *)req->body, req->body_len, name, out, out_len);
}

bool cs_web_cookie(const cs_web_request_t *req, const char *name, char *out, size_t out_len) {
  size_t name_len = strlen(name);
  for (uint32_t i = 0; i < req->header_count; i++) {
    if (strcasecmp(req->arena + req->headers[i].name.off, "cookie") != 0) continue;
    const char *p = req->arena + req->headers[i].value.off;
    while (*p) {
      while (*p == ' ' || *p == ';') p++;
      const char *eq = strchr(p, '=');
      const char *end = strchr(p, ';');
      if (!end) end = p + strlen(p);
      if (eq && eq < end && (size_t)(eq - p) == name_len && memcmp(p, name, name_len) == 0) {
        size_t len = (size_t)(end - eq - 1);
        if (len + 1 > out_len) return false;
        memcpy(out, eq + 1, len);
        out[len] = '\0';
        return true;
      }
      p = end;
    }
  }
  return false;
}

const uint8_t *cs_web_body(const cs_web_request_t *req, size_t *len) {
  *len = req->body_len;
  return req->body;
}

const char *cs_web_peer(const cs_web_request_t *req) { return req->conn->peer; }

const char *cs_web_upload_path(const cs_web_request_t *req, uint64_t *size) {
  if (size) *size = req->upload_len;
  return req->upload_path[0] ? req->upload_path : NULL;
}

cs_web_server_t *cs_web_request_server(const cs_web_request_t *req) { return req->conn->server; }

uv_loop_t *cs_web_server_loop(const cs_web_server_t *server) { return server->loop; }

bool cs_web_request_gone(const cs_web_request_t *req) { return req->gone; }

/* Embedded static assets: looked up by exact name in a table compiled into
 * the binary (tools/web/embed.cmake), so no request can name a file
 * outside it, whatever dots, slashes or escapes its path holds. */
#include "tools/web/web_int.h"

#include <string.h>
#include <strings.h>

static const struct {
  const char *extension;
  const char *type;
} content_types[] = {
  {".html", "text/html; charset=utf-8"},
  {".css", "text/css; charset=utf-8"},
  {".js", "text/javascript; charset=utf-8"},
  {".mjs", "text/javascript; charset=utf-8"},
  {".json", "application/json"},
  {".svg", "image/svg+xml"},
  {".png", "image/png"},
  {".ico", "image/x-icon"},
  {".woff2", "font/woff2"},
  {".txt", "text/plain; charset=utf-8"},
  {".webmanifest", "application/manifest+json"},
};

const char *cs_web_content_type(const char *path) {
  const char *dot = strrchr(path, '.');
  if (dot && !strchr(dot, '/'))
    for (size_t i = 0; i < sizeof(content_types) / sizeof(content_types[0]); i++)
      if (strcasecmp(dot, content_types[i].extension) == 0) return content_types[i].type;
  return "application/octet-stream";
}

const cs_web_asset_t *cs_web__asset_find(const cs_web_asset_table_t *table, const char *path, size_t len) {
  size_t lo = 0, hi = table->count;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    const char *name = table->assets[mid].path;
    int cmp = strncmp(name, path, len);
    if (cmp == 0) cmp = name[len] == '\0' ? 0 : 1;
    if (cmp == 0) return &table->assets[mid];
    if (cmp < 0) lo = mid + 1;
    else hi = mid;
  }
  return NULL;
}

/* True when If-None-Match lists the asset's ETag (or is "*"). */
static bool etag_listed(const char *header, const char *etag) {
  size_t etag_len = strlen(etag);
  const char *p = header;
  while (*p) {
    while (*p == ' ' || *p == ',') p++;
    if (strncmp(p, "W/", 2) == 0) p += 2;
    const char *end = strchr(p, ',');
    size_t len = end ? (size_t)(end - p) : strlen(p);
    while (len > 0 && (p[len - 1] == ' ' || p[len - 1] == '\t')) len--;
    if ((len == 1 && *p == '*') || (len == etag_len && memcmp(p, etag, len) == 0)) return true;
    if (!end) break;
    p = end + 1;
  }
  return false;
}

void cs_web__serve_asset(cs_web_request_t *req, const cs_web_asset_t *asset) {
  if (!asset) {
    cs_web_respond_error(req, 404, "no such asset");
    return;
  }
  cs_web_header_add(req, "ETag", asset->etag);
  cs_web_header_add(req, "Cache-Control", "no-cache");
  const char *match = cs_web_header(req, "if-none-match");
  if (match && etag_listed(match, asset->etag)) {
    cs_web_respond_static(req, 304, NULL, NULL, 0);
    return;
  }
  cs_web_respond_static(req, 200, cs_web_content_type(asset->path), asset->data, asset->len);
}

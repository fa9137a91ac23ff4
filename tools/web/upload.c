/* Upload routes: the body streams into a new file (mkstemp, mode 0600)
 * under the route's directory, one read buffer at a time, and never past
 * the route's bound. A refused, cut or timed-out upload leaves no file. */
#include "tools/web/web_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int cs_web__upload_open(cs_web_request_t *req) {
  const cs_web__route_t *route = req->route;
  snprintf(req->upload_path, sizeof(req->upload_path), "%s/upload-XXXXXX", route->upload_dir);
  int fd = mkstemp(req->upload_path);
  if (fd < 0) {
    cs_web__log(req->conn->server, CS_WEB_LOG_ERROR, "web: cannot create an upload file in %s: %s",
                route->upload_dir, strerror(errno));
    req->upload_path[0] = '\0';
    return CS_EIO;
  }
  fcntl(fd, F_SETFD, FD_CLOEXEC);
  req->upload_fd = fd;
  req->upload_len = 0;
  return CS_OK;
}

int cs_web__upload_write(cs_web_request_t *req, const char *data, size_t len) {
  uint64_t max = req->route->upload_max;
  if (req->upload_fd < 0) return CS_EINVAL;
  if (len > max - req->upload_len) {
    char reason[80];
    snprintf(reason, sizeof(reason), "the upload is over %llu bytes", (unsigned long long)max);
    cs_web__refuse(req, 413, reason);
    return CS_ETOOBIG;
  }
  while (len > 0) {
    ssize_t n = write(req->upload_fd, data, len);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      char reason[96];
      snprintf(reason, sizeof(reason), "cannot write the upload: %s", n < 0 ? strerror(errno) : "no room");
      cs_web__refuse(req, errno == ENOSPC ? 507 : 500, reason);
      return CS_EIO;
    }
    data += n;
    len -= (size_t)n;
    req->upload_len += (uint64_t)n;
  }
  return CS_OK;
}

void cs_web__upload_finish(cs_web_request_t *req) {
  if (req->upload_fd < 0) return;
  int rc = close(req->upload_fd);
  req->upload_fd = -1;
  if (rc != 0) {
    unlink(req->upload_path);
    req->upload_path[0] = '\0';
    cs_web_respond_error(req, 500, "cannot write the upload");
  }
}

void cs_web__upload_discard(cs_web_request_t *req) {
  if (req->upload_fd >= 0) {
    close(req->upload_fd);
    req->upload_fd = -1;
    unlink(req->upload_path);
  }
  req->upload_path[0] = '\0';
}

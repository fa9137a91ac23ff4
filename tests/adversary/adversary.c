/* A hostile peer for tests/integration/test_adversary.sh: it connects to a
 * running `clubsync serve` and misbehaves in one chosen way. Where it needs
 * to get past the handshake it uses a member's home (its key and the club's
 * network key), as a compromised or buggy member would.
 *
 *   adversary MODE HOST PORT [HOME] [ARG]
 *
 * | MODE         | what it does                                              |
 * |--------------|-----------------------------------------------------------|
 * | garbage-pre  | 256 random bytes instead of the handshake                 |
 * | slow         | one byte a second, for ARG seconds at most                |
 * | flood        | ARG connections at once, held two seconds                 |
 * | garbage-post | after the handshake, a message of random bytes            |
 * | oversize     | after the handshake, a message length of 1 GiB            |
 * | truncated    | after the handshake, half a message, then it hangs up     |
 * | forged       | HELLO, then the changes of bundle ARG with one signature  |
 * |              | byte flipped each                                         |
 * | replay       | HELLO, then the changes of bundle ARG, twice              |
 * | send         | HELLO, then the changes of bundle ARG once, then it shuts |
 * |              | its side down (the server reads all of it, then closes)   |
 * | missing      | HELLO, then ARG signed changes whose deps do not exist    |
 * | idle         | holds ARG (N:SECONDS) handshaken sessions that send       |
 * |              | nothing, redialing each 1 s after the server closes it    |
 * | churn        | bare TCP connections, HOME (SECONDS) long, at ARG per     |
 * |              | second (default 1000), 64 open at a time, oldest closed   |
 * | checks-read  | HELLO, then ARG CHECK requests at once; reads for 5 s and |
 * |              | says how many bytes came back (an answer is 75 bytes)     |
 * | checks       | HELLO, then ARG CHECK requests without reading a byte;    |
 * |              | when the server stops reading for 10 s it says how many   |
 * |              | it sent and holds the connection 5 s more                 |
 *
 * CS_ADVERSARY_FROM=IP makes every connection come from that local address
 * (127.0.0.2: an attacker on another address than the honest peer's).
 *
 * Exit status: 0 when the server closed the connection or took the input,
 * 1 on a local failure. The test checks the server's side.
 *
 * One mode plays the server instead, a peer that stops sending halfway:
 *
 *   adversary stall PORT-FILE HOME BUNDLE N
 *
 * listens on 127.0.0.1 (an ephemeral port, written to PORT-FILE), takes one
 * connection with HOME's key and network key, sends HELLO and the vector
 * of the whole BUNDLE, then a CHANGES message with its first N changes
 * only, and waits without a word until the client hangs up (exit 0). */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include <sodium.h>

#include "core/boxstream.h"
#include "core/bundle.h"
#include "core/change.h"
#include "core/mp.h"
#include "core/op.h"
#include "core/shs1.h"
#include "core/sync.h"

/* A TCP socket from CS_ADVERSARY_FROM's address, when set. */
static int socket_from(void) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  const char *from = getenv("CS_ADVERSARY_FROM");
  if (fd >= 0 && from && *from) {
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = 0};
    inet_pton(AF_INET, from, &a.sin_addr);
    if (bind(fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
      perror("bind");
      exit(1);
    }
  }
  return fd;
}

static int try_dial(const char *host, int port) {
  int fd = socket_from();
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
  struct timeval tv = {15, 0};
  inet_pton(AF_INET, host, &a.sin_addr);
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
    if (fd >= 0) close(fd);
    return -1;
  }
  return fd;
}

static int dial(const char *host, int port) {
  int fd = try_dial(host, port);
  if (fd < 0) {
    perror("connect");
    exit(1);
  }
  return fd;
}

static int read_exact(int fd, uint8_t *buf, size_t len) {
  for (size_t got = 0; got < len;) {
    ssize_t n = read(fd, buf + got, len - got);
    if (n <= 0) return -1;
    got += (size_t)n;
  }
  return 0;
}

static void write_all(int fd, const uint8_t *buf, size_t len) {
  for (size_t sent = 0; sent < len;) {
    ssize_t n = send(fd, buf + sent, len - sent, MSG_NOSIGNAL);
    if (n <= 0) return; /* the server hung up: what the test wants to see */
    sent += (size_t)n;
  }
}

/* Waits until the server closes (read returns 0 or an error). */
static int wait_closed(int fd) {
  uint8_t buf[4096];
  for (;;) {
    ssize_t n = read(fd, buf, sizeof(buf));
    if (n <= 0) return 0;
  }
}

typedef struct peer_s {
  int fd;
  uint8_t sk[64];
  uint8_t netkey[32];
  uint8_t club[32];
  cs_boxstream_enc_t enc;
} peer_t;

static void load_home(peer_t *p, const char *home) {
  char path[4200];
  uint8_t buf[1024];
  snprintf(path, sizeof(path), "%s/identity", home);
  FILE *f = fopen(path, "rb");
  size_t n = f ? fread(buf, 1, sizeof(buf), f) : 0;
  if (f) fclose(f);
  cs_mp_reader_t r = cs_mp_reader((cs_span_t){buf, n});
  uint32_t count;
  uint64_t version;
  cs_span_t sk;
  if (cs_mp_read_array(&r, &count) || cs_mp_read_uint(&r, &version) || cs_mp_read_bin(&r, &sk) || sk.len != 64) {
    fprintf(stderr, "adversary: no identity in %s\n", home);
    exit(1);
  }
  memcpy(p->sk, sk.ptr, 64);
  snprintf(path, sizeof(path), "%s/keys", home);
  DIR *d = opendir(path);
  struct dirent *e;
  while (d && (e = readdir(d)) != NULL) {
    char hex[65];
    if (strlen(e->d_name) != 64 + 7 || strcmp(e->d_name + 64, ".netkey") != 0) continue;
    memcpy(hex, e->d_name, 64);
    hex[64] = '\0';
    if (cs_unhex32(hex, p->club) != CS_OK) continue;
    snprintf(path, sizeof(path), "%s/keys/%s", home, e->d_name);
    f = fopen(path, "rb");
    if (f && fread(p->netkey, 1, 32, f) == 32) {
      fclose(f);
      closedir(d);
      return;
    }
    if (f) fclose(f);
  }
  if (d) closedir(d);
  fprintf(stderr, "adversary: no network key in %s/keys\n", home);
  exit(1);
}

/* The client side of the handshake, then a box-stream to write into;
 * -1 (nothing left open) when it fails. */
static int try_handshake(peer_t *p, const char *host, int port) {
  p->fd = try_dial(host, port);
  if (p->fd < 0) return -1;
  uint8_t server_pk[32], eph[32], msg[256];
  cs_shs1_t hs;
  randombytes_buf(eph, sizeof(eph));
  if (read_exact(p->fd, server_pk, 32) || cs_shs1_client_init(&hs, p->netkey, p->sk, eph, server_pk)) goto fail;
  for (;;) {
    size_t len;
    cs_shs1_next_t next = cs_shs1_next(&hs, &len);
    if (next == CS_SHS1_DONE) break;
    if (next == CS_SHS1_FAILED) goto fail;
    if (next == CS_SHS1_SEND) {
      if (cs_shs1_produce(&hs, msg, sizeof(msg))) goto fail;
      write_all(p->fd, msg, len);
    } else if (read_exact(p->fd, msg, len) || cs_shs1_consume(&hs, msg, len)) {
      goto fail;
    }
  }
  const cs_shs1_session_t *s = cs_shs1_session(&hs);
  if (cs_boxstream_enc_init(&p->enc, s->enc_key, s->enc_nonce)) goto fail;
  cs_shs1_wipe(&hs);
  return 0;
fail:
  cs_shs1_wipe(&hs);
  close(p->fd);
  p->fd = -1;
  return -1;
}

static void handshake(peer_t *p, const char *host, int port) {
  if (try_handshake(p, host, port) != 0) {
    fprintf(stderr, "adversary: handshake refused\n");
    exit(1);
  }
}

static double now_s(void) {
  struct timeval tv;
  gettimeofday(&tv, NULL);
  return (double)tv.tv_sec + (double)tv.tv_usec / 1e6;
}

/* Holds COUNT sessions open for SECONDS without a word, and opens a new one
 * 1 s after the server closes one. */
static int idle_sessions(const char *host, int port, const char *home, int count, int seconds) {
  peer_t *p = calloc((size_t)count, sizeof(*p));
  double *redial_at = calloc((size_t)count, sizeof(double));
  struct pollfd *pfd = calloc((size_t)count, sizeof(*pfd));
  long opened = 0, closed = 0, refused = 0;
  for (int i = 0; i < count; i++) {
    load_home(&p[i], home);
    p[i].fd = -1;
  }
  double end = now_s() + seconds;
  while (now_s() < end) {
    for (int i = 0; i < count; i++) {
      if (p[i].fd >= 0 || now_s() < redial_at[i]) continue;
      if (try_handshake(&p[i], host, port) == 0) opened++;
      else {
        refused++;
        redial_at[i] = now_s() + 1.0;
      }
    }
    for (int i = 0; i < count; i++) {
      pfd[i].fd = p[i].fd;
      pfd[i].events = POLLIN;
      pfd[i].revents = 0;
    }
    if (poll(pfd, (nfds_t)count, 100) < 0) break;
    for (int i = 0; i < count; i++) {
      if (p[i].fd < 0 || !(pfd[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      uint8_t buf[4096];
      ssize_t n = recv(p[i].fd, buf, sizeof(buf), MSG_DONTWAIT); /* what the server sends is read and dropped */
      if (n == 0 || (n < 0 && errno != EAGAIN)) {
        close(p[i].fd);
        p[i].fd = -1;
        closed++;
        redial_at[i] = now_s() + 1.0;
      }
    }
  }
  int open_now = 0;
  for (int i = 0; i < count; i++)
    if (p[i].fd >= 0) {
      open_now++;
      close(p[i].fd);
    }
  printf("idle: %ld sessions opened, %ld closed by the server, %ld handshakes refused, %d open at the end\n", opened,
         closed, refused, open_now);
  free(p);
  free(redial_at);
  free(pfd);
  return 0;
}

/* Bare TCP connections at RATE per second for SECONDS, 64 open at a time:
 * each new one closes the oldest. Nothing is ever sent. */
static int churn(const char *host, int port, int seconds, int rate) {
  enum { OPEN = 64 };
  int ring[OPEN];
  for (int i = 0; i < OPEN; i++) ring[i] = -1;
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
  inet_pton(AF_INET, host, &a.sin_addr);
  long made = 0;
  double start = now_s(), end = start + seconds;
  while (now_s() < end) {
    int slot = (int)(made % OPEN);
    if (ring[slot] >= 0) close(ring[slot]);
    int fd = socket_from();
    fcntl(fd, F_SETFL, O_NONBLOCK);
    (void)connect(fd, (struct sockaddr *)&a, sizeof(a));
    ring[slot] = fd;
    made++;
    double next = start + (double)made / rate, wait = next - now_s();
    if (wait > 0) usleep((useconds_t)(wait * 1e6));
  }
  for (int i = 0; i < OPEN; i++)
    if (ring[i] >= 0) close(ring[i]);
  printf("churn: %ld connections in %d s\n", made, seconds);
  return 0;
}

/* Seals raw stream bytes into boxes of at most 4096 bytes. */
static void send_boxed(peer_t *p, const uint8_t *data, size_t len) {
  uint8_t box[CS_BOXSTREAM_SEALED_BYTES(CS_BOXSTREAM_MAX_BODY)];
  for (size_t at = 0; at < len;) {
    size_t n = len - at < CS_BOXSTREAM_MAX_BODY ? len - at : CS_BOXSTREAM_MAX_BODY;
    if (cs_boxstream_seal(&p->enc, data + at, n, box, sizeof(box))) exit(1);
    write_all(p->fd, box, CS_BOXSTREAM_SEALED_BYTES(n));
    at += n;
  }
}

static void send_message(peer_t *p, cs_span_t m) {
  uint8_t len[4] = {(uint8_t)(m.len >> 24), (uint8_t)(m.len >> 16), (uint8_t)(m.len >> 8), (uint8_t)m.len};
  cs_buf_t b;
  cs_buf_init(&b, m.len + 4);
  cs_buf_append(&b, len, 4);
  cs_buf_append(&b, m.ptr, m.len);
  send_boxed(p, b.data, b.len);
  cs_buf_free(&b);
}

static void send_hello(peer_t *p) {
  cs_buf_t b;
  uint8_t digest[32];
  randombytes_buf(digest, sizeof(digest));
  cs_buf_init(&b, 128);
  cs_mp_write_array(&b, 4);
  cs_mp_write_uint(&b, CS_SYNC_HELLO);
  cs_mp_write_uint(&b, CS_SYNC_VERSION);
  cs_mp_write_bin(&b, p->club, CS_SYNC_PREFIX_LEN);
  cs_mp_write_bin(&b, digest, 32);
  send_message(p, cs_buf_span(&b));
  cs_buf_free(&b);
}

/* CHANGES messages of at most 512 changes, the last one says last. */
static void send_changes(peer_t *p, cs_span_t *items, size_t count) {
  cs_buf_t b;
  cs_buf_init(&b, CS_SYNC_MESSAGE_MAX);
  for (size_t at = 0; at < count; at += 512) {
    size_t n = count - at < 512 ? count - at : 512;
    cs_buf_reset(&b);
    cs_mp_write_array(&b, 3);
    cs_mp_write_uint(&b, CS_SYNC_CHANGES);
    cs_mp_write_array(&b, (uint32_t)n);
    for (size_t i = 0; i < n; i++) cs_mp_write_bin(&b, items[at + i].ptr, items[at + i].len);
    cs_mp_write_bool(&b, at + n == count);
    if (!b.failed) send_message(p, cs_buf_span(&b));
  }
  cs_buf_free(&b);
}

static size_t bundle_changes(const char *path, uint8_t **data_out, cs_span_t **items_out) {
  FILE *f = fopen(path, "rb");
  struct stat st;
  if (!f || fstat(fileno(f), &st) != 0) exit(1);
  uint8_t *data = malloc((size_t)st.st_size);
  if (!data || fread(data, 1, (size_t)st.st_size, f) != (size_t)st.st_size) exit(1);
  fclose(f);
  cs_bundle_reader_t r;
  cs_bundle_header_t h;
  cs_span_t rec, *items = NULL;
  size_t count = 0;
  if (cs_bundle_open(&r, (cs_span_t){data, (size_t)st.st_size}, &h)) exit(1);
  while (cs_bundle_next(&r, &rec) == CS_OK) {
    items = realloc(items, (count + 1) * sizeof(*items));
    uint8_t *copy = malloc(rec.len);
    memcpy(copy, rec.ptr, rec.len);
    items[count++] = (cs_span_t){copy, rec.len};
  }
  *data_out = data;
  *items_out = items;
  return count;
}

/* The server side of the handshake on an accepted connection. */
static void accept_handshake(peer_t *p, int fd) {
  p->fd = fd;
  uint8_t eph[32], msg[256];
  write_all(fd, p->sk + 32, 32); /* the greeting: our key */
  randombytes_buf(eph, sizeof(eph));
  cs_shs1_t hs;
  if (cs_shs1_server_init(&hs, p->netkey, p->sk, eph)) exit(1);
  for (;;) {
    size_t len;
    cs_shs1_next_t next = cs_shs1_next(&hs, &len);
    if (next == CS_SHS1_DONE) break;
    if (next == CS_SHS1_FAILED) exit(1);
    if (next == CS_SHS1_SEND) {
      if (cs_shs1_produce(&hs, msg, sizeof(msg))) exit(1);
      write_all(fd, msg, len);
    } else if (read_exact(fd, msg, len) || cs_shs1_consume(&hs, msg, len)) {
      fprintf(stderr, "adversary: the client's handshake failed\n");
      exit(1);
    }
  }
  const cs_shs1_session_t *s = cs_shs1_session(&hs);
  if (cs_boxstream_enc_init(&p->enc, s->enc_key, s->enc_nonce)) exit(1);
  cs_shs1_wipe(&hs);
}

/* The VECTOR message of a set of changes of one club (no forks). */
static void send_vector_of(peer_t *p, const cs_span_t *items, size_t count) {
  uint8_t (*authors)[32] = calloc(count + 1, 32), (*heads)[32] = calloc(count + 1, 32);
  uint64_t *seqs = calloc(count + 1, sizeof(uint64_t));
  size_t n = 0;
  cs_change_t *c = malloc(sizeof(*c));
  for (size_t i = 0; i < count; i++) {
    if (cs_change_decode(items[i], c) != CS_OK) exit(1);
    size_t at = 0;
    while (at < n && memcmp(authors[at], c->author, 32) != 0) at++;
    if (at == n) memcpy(authors[n++], c->author, 32);
    if (c->seq > seqs[at]) {
      seqs[at] = c->seq;
      memcpy(heads[at], c->id, 32);
    }
  }
  cs_buf_t b;
  cs_buf_init(&b, CS_SYNC_MESSAGE_MAX);
  cs_mp_write_array(&b, 2);
  cs_mp_write_uint(&b, CS_SYNC_VECTOR);
  cs_mp_write_array(&b, (uint32_t)n);
  for (size_t i = 0; i < n; i++) {
    cs_mp_write_array(&b, 4);
    cs_mp_write_bin(&b, authors[i], CS_SYNC_PREFIX_LEN);
    cs_mp_write_uint(&b, seqs[i]);
    cs_mp_write_bin(&b, heads[i], CS_SYNC_PREFIX_LEN);
    cs_mp_write_uint(&b, 0);
  }
  send_message(p, cs_buf_span(&b));
  cs_buf_free(&b);
  free(c);
  free(authors);
  free(heads);
  free(seqs);
}

/* A CHANGES message that does not say it is the last. */
static void send_changes_not_last(peer_t *p, const cs_span_t *items, size_t count) {
  cs_buf_t b;
  cs_buf_init(&b, CS_SYNC_MESSAGE_MAX);
  cs_mp_write_array(&b, 3);
  cs_mp_write_uint(&b, CS_SYNC_CHANGES);
  cs_mp_write_array(&b, (uint32_t)count);
  for (size_t i = 0; i < count; i++) cs_mp_write_bin(&b, items[i].ptr, items[i].len);
  cs_mp_write_bool(&b, false);
  if (b.failed) exit(1);
  send_message(p, cs_buf_span(&b));
  cs_buf_free(&b);
}

static int stall_server(const char *port_file, const char *home, const char *bundle, size_t first) {
  peer_t p;
  load_home(&p, home);
  uint8_t *data;
  cs_span_t *items;
  size_t count = bundle_changes(bundle, &data, &items);
  if (first > count) first = count;
  int listener = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = 0};
  socklen_t alen = sizeof(a);
  inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
  if (listener < 0 || bind(listener, (struct sockaddr *)&a, sizeof(a)) != 0 || listen(listener, 1) != 0 ||
      getsockname(listener, (struct sockaddr *)&a, &alen) != 0) {
    perror("listen");
    return 1;
  }
  char tmp[4200];
  snprintf(tmp, sizeof(tmp), "%s.tmp", port_file);
  FILE *f = fopen(tmp, "w");
  if (!f || fprintf(f, "%d\n", ntohs(a.sin_port)) < 0 || fclose(f) != 0 || rename(tmp, port_file) != 0) return 1;
  int fd = accept(listener, NULL, NULL);
  if (fd < 0) return 1;
  close(listener);
  accept_handshake(&p, fd);
  send_hello(&p);
  send_vector_of(&p, items, count);
  send_changes_not_last(&p, items, first);
  /* No more: the client waits for the rest until it is interrupted. */
  struct timeval forever = {0, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &forever, sizeof(forever));
  for (size_t i = 0; i < count; i++) free((void *)items[i].ptr);
  free(items);
  free(data);
  return wait_closed(fd);
}

int main(int argc, char **argv) {
  if (argc < 4 || sodium_init() < 0) {
    fprintf(stderr, "usage: adversary MODE HOST PORT [HOME] [ARG]\n");
    return 1;
  }
  if (strcmp(argv[1], "stall") == 0) {
    if (argc != 6) {
      fprintf(stderr, "usage: adversary stall PORT-FILE HOME BUNDLE N\n");
      return 1;
    }
    return stall_server(argv[2], argv[3], argv[4], (size_t)atol(argv[5]));
  }
  const char *mode = argv[1], *host = argv[2];
  int port = atoi(argv[3]);
  const char *home = argc > 4 ? argv[4] : NULL;
  const char *arg = argc > 5 ? argv[5] : NULL;
  uint8_t junk[256];
  randombytes_buf(junk, sizeof(junk));

  if (strcmp(mode, "garbage-pre") == 0) {
    int fd = dial(host, port);
    write_all(fd, junk, sizeof(junk));
    return wait_closed(fd);
  }
  if (strcmp(mode, "slow") == 0) {
    int fd = dial(host, port), seconds = home ? atoi(home) : 30;
    struct timeval tv = {1, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    uint8_t buf[64];
    for (int i = 0; i < seconds; i++) {
      write_all(fd, junk + i % sizeof(junk), 1);
      ssize_t n = read(fd, buf, sizeof(buf)); /* the greeting, then the close */
      if (n == 0) return 0;
    }
    fprintf(stderr, "adversary: still connected after %d seconds\n", seconds);
    return 1;
  }
  if (strcmp(mode, "churn") == 0) return churn(host, port, home ? atoi(home) : 10, arg ? atoi(arg) : 1000);
  if (strcmp(mode, "idle") == 0 && home && arg) {
    int count = atoi(arg), seconds = strchr(arg, ':') ? atoi(strchr(arg, ':') + 1) : 30;
    return idle_sessions(host, port, home, count, seconds);
  }
  if (strcmp(mode, "flood") == 0) {
    int n = home ? atoi(home) : 200;
    int *fds = calloc((size_t)n, sizeof(int));
    for (int i = 0; i < n; i++) fds[i] = socket_from();
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    inet_pton(AF_INET, host, &a.sin_addr);
    for (int i = 0; i < n; i++) (void)connect(fds[i], (struct sockaddr *)&a, sizeof(a));
    sleep(2);
    for (int i = 0; i < n; i++) close(fds[i]);
    free(fds);
    return 0;
  }
  if (!home) return 1;
  peer_t p;
  load_home(&p, home);
  handshake(&p, host, port);
  if (strcmp(mode, "garbage-post") == 0) {
    send_message(&p, (cs_span_t){junk, sizeof(junk)});
  } else if (strcmp(mode, "oversize") == 0) {
    uint8_t len[4] = {0x40, 0, 0, 0};
    send_boxed(&p, len, 4);
    send_boxed(&p, junk, sizeof(junk));
  } else if (strcmp(mode, "truncated") == 0) {
    uint8_t len[4] = {0, 0, 0x03, 0xe8};
    send_boxed(&p, len, 4);
    send_boxed(&p, junk, 10);
    close(p.fd);
    return 0;
  } else if (strcmp(mode, "forged") == 0 || strcmp(mode, "replay") == 0 || strcmp(mode, "send") == 0) {
    uint8_t *data;
    cs_span_t *items;
    size_t count = bundle_changes(arg, &data, &items);
    send_hello(&p);
    if (strcmp(mode, "forged") == 0) {
      /* The signature is the second item: flip a byte inside it. */
      for (size_t i = 0; i < count; i++) {
        cs_change_t *c = malloc(sizeof(*c));
        if (cs_change_decode(items[i], c) == CS_OK) {
          size_t sig_at = (size_t)(c->header_bytes.ptr - items[i].ptr) + c->header_bytes.len + 2 + 10;
          ((uint8_t *)items[i].ptr)[sig_at] ^= 0x01;
        }
        free(c);
      }
      send_changes(&p, items, count);
    } else if (strcmp(mode, "send") == 0) {
      /* A half close, not a close: the server reads everything sent before
       * it sees the end, so the test can read its log as soon as we exit. */
      send_changes(&p, items, count);
      shutdown(p.fd, SHUT_WR);
    } else {
      send_changes(&p, items, count);
      send_changes(&p, items, count);
    }
    for (size_t i = 0; i < count; i++) free((void *)items[i].ptr);
    free(items);
    free(data);
  } else if (strcmp(mode, "checks-read") == 0) {
    long count = arg ? atol(arg) : 2000;
    send_hello(&p);
    uint8_t one[41] = {0, 0, 0, 37, 0x93, CS_SYNC_CHECK, 0xc4, 32};
    one[40] = 0xc2;
    for (long i = 0; i < count; i++) send_boxed(&p, one, sizeof(one));
    struct timeval tv = {0, 100000};
    setsockopt(p.fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    long got = 0;
    double end = now_s() + 5;
    uint8_t buf[65536];
    while (now_s() < end) {
      ssize_t n = read(p.fd, buf, sizeof(buf));
      if (n == 0) break;
      if (n > 0) got += n;
    }
    printf("checks-read: %ld CHECKs sent at once, %ld bytes came back in 5 s\n", count, got);
    close(p.fd);
    return 0;
  } else if (strcmp(mode, "checks") == 0) {
    long count = arg ? atol(arg) : 3000000, sent = 0;
    send_hello(&p);
    /* 99 CHECKs to a box: 4-byte length, [5, digest, false]. */
    uint8_t one[41] = {0, 0, 0, 37, 0x93, CS_SYNC_CHECK, 0xc4, 32};
    one[40] = 0xc2;
    uint8_t plain[99 * 41], box[CS_BOXSTREAM_SEALED_BYTES(sizeof(plain))];
    for (int i = 0; i < 99; i++) memcpy(plain + 41 * i, one, sizeof(one));
    struct timeval tv = {10, 0};
    setsockopt(p.fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    bool blocked = false;
    while (sent < count && !blocked) {
      if (cs_boxstream_seal(&p.enc, plain, sizeof(plain), box, sizeof(box))) exit(1);
      for (size_t at = 0; at < sizeof(box);) {
        ssize_t n = send(p.fd, box + at, sizeof(box) - at, MSG_NOSIGNAL);
        if (n <= 0) {
          blocked = true;
          break;
        }
        at += (size_t)n;
      }
      sent += 99;
    }
    printf("checks: %ld CHECKs sent%s\n", sent, blocked ? "; then the server stopped reading for 10 s" : "");
    sleep(5);
    close(p.fd);
    return 0;
  } else if (strcmp(mode, "missing") == 0) {
    size_t count = arg ? (size_t)atol(arg) : 100000;
    send_hello(&p);
    cs_span_t *items = calloc(512, sizeof(*items));
    cs_buf_t payload;
    cs_buf_init(&payload, 1024);
    cs_mp_write_array(&payload, 2);
    cs_op_write_create(&payload, CS_OBJ_REQUEST, NULL);
    cs_op_write_set_str(&payload, cs_ref_local(0), CS_F_REQ_TITLE, "Jamais", 0, NULL);
    for (size_t at = 0; at < count; at += 512) {
      size_t n = count - at < 512 ? count - at : 512;
      for (size_t i = 0; i < n; i++) {
        uint8_t prev[32], dep[32], id[32];
        randombytes_buf(prev, sizeof(prev));
        randombytes_buf(dep, sizeof(dep));
        cs_change_draft_t d = {.club = p.club, .author = p.sk + 32, .seq = 1000000 + at + i, .prev = prev,
                               .dep_count = 1, .deps = (const uint8_t(*)[32])dep, .lamport = 1000000,
                               .time_ms = 0, .payload = cs_buf_span(&payload)};
        cs_buf_t *out = malloc(sizeof(*out));
        cs_buf_init(out, CS_CHANGE_SIGNED_MAX);
        if (cs_change_build(&d, p.sk, out, id)) exit(1);
        items[i] = (cs_span_t){out->data, out->len};
        free(out);
      }
      send_changes(&p, items, n);
      for (size_t i = 0; i < n; i++) free((void *)items[i].ptr);
    }
    cs_buf_free(&payload);
    free(items);
  } else {
    fprintf(stderr, "adversary: unknown mode %s\n", mode);
    return 1;
  }
  return wait_closed(p.fd);
}

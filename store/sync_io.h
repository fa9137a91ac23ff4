#ifndef CS_STORE_SYNC_IO_H
#define CS_STORE_SYNC_IO_H

/* The sync machine's access to a real replica: vectors, changes in causal
 * order, and ingest with signatures verified ahead on the second core and
 * commits grouped in batches. Used by net/ and by the simulator. */

#include "core/sync.h"
#include "store/store.h"

#define CS_STORE_SYNC_BATCH 512

typedef struct cs_store_sync_s {
  cs_store_t *store;
  uint8_t club[CS_ID_LEN];
  cs_txn_t write;
  bool write_open;
  uint32_t in_batch;
  uint64_t write_base; /* the store's last arrival when the batch began */
  int deferred_err;    /* a commit that another batch forced, and that failed */
  /* Outcomes since the start, for logs and status. */
  uint64_t added, duplicates, pending, rejected, forks;
  uint64_t vectors_read; /* times the local vector was read from the store (a digest not found in the cache, a VECTOR) */
  int last_reject_reason;
  /* Where the transport's send goes. */
  int (*send)(void *send_ctx, cs_span_t message);
  void *send_ctx;
  /* Optional: told after each commit which arrival numbers, (after, upto],
   * that batch stored, so the transport never pushes them back to the peer
   * they came from. A batch is one write transaction, so no other writer's
   * changes fall in the range. */
  void (*stored)(void *send_ctx, uint64_t after, uint64_t upto);
} cs_store_sync_t;

/* Fills io so that a cs_sync_t reads and writes this store. */
void cs_store_sync_init(cs_store_sync_t *x, cs_store_t *store, const uint8_t club[CS_ID_LEN],
                        int (*send)(void *send_ctx, cs_span_t message), void *send_ctx, cs_sync_io_t *io);
/* Commits the open batch: received changes are acknowledged (durable) only
 * after this returns CS_OK. A batch may stay open across several incoming
 * messages (fewer commits, so fewer fsyncs); it is committed when full, when
 * the caller flushes, or when another batch on the same store opens. */
int cs_store_sync_flush(cs_store_sync_t *x) CS_MUST_USE;
/* Abandons the open batch (on a store error or a crash in the simulator). */
void cs_store_sync_abort(cs_store_sync_t *x);

#endif

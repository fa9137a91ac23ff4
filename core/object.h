#ifndef CS_CORE_OBJECT_H
#define CS_CORE_OBJECT_H

/* The materialized record of one object (a request, a comment ...) and the
 * CRDT rules that update it. The record's encoding is canonical: two nodes
 * that applied the same set of operations hold byte-identical records, which
 * is what makes `clubsync digest` meaningful. */

#include <stdbool.h>
#include <stdint.h>

#include "core/change.h"
#include "core/mp.h"
#include "core/past.h"

/* One live value of a register, or one live (element, add op) of a set. */
typedef struct cs_entry_s {
  uint64_t field;
  uint64_t lamport;
  uint8_t author[CS_KEY_LEN];
  uint8_t op[CS_ID_LEN];
  uint8_t *value; /* owned copy of the raw msgpack value */
  size_t value_len;
} cs_entry_t;

typedef struct cs_object_s {
  uint64_t type;
  bool has_parent;
  uint8_t parent[CS_ID_LEN];
  uint8_t creator[CS_KEY_LEN];
  uint64_t created_lamport;
  uint8_t created_change[CS_ID_LEN];
  bool deleted;
  uint8_t deleted_by[CS_KEY_LEN];
  uint64_t deleted_lamport;
  uint32_t entry_count;
  uint32_t entry_cap;
  cs_entry_t *entries; /* sorted: field asc, then (lamport, author, op) desc */
} cs_object_t;

/* A record is derived state: its size follows from the set of changes, not
 * from any one of them, so it must never decide whether a change applies
 * (that would depend on arrival order) nor fail an ingest. This bound only
 * keeps the encoder's buffer finite; each change can grow a record by at
 * most about its own size. (At 4 MiB, about 90 changes of conflicting
 * values by one member made every node's ingest fail for good:
 * docs/reliability.md.) */
#define CS_RECORD_MAX (1024u * 1024u * 1024u)

void cs_object_init(cs_object_t *obj);
void cs_object_free(cs_object_t *obj);
int cs_object_decode(cs_span_t bytes, cs_object_t *obj) CS_MUST_USE;
int cs_object_encode(const cs_object_t *obj, cs_buf_t *out) CS_MUST_USE;

/* Register write: drops the values whose op is in preds, adds this one. */
int cs_object_set(cs_object_t *obj, uint64_t field, uint64_t lamport, const uint8_t author[CS_KEY_LEN],
                  const uint8_t op[CS_ID_LEN], cs_span_t value, uint32_t pred_count,
                  const uint8_t (*preds)[CS_ID_LEN]) CS_MUST_USE;
/* Set add: the element is present while any of its add ops is live. */
int cs_object_add(cs_object_t *obj, uint64_t field, uint64_t lamport, const uint8_t author[CS_KEY_LEN],
                  const uint8_t op[CS_ID_LEN], cs_span_t element) CS_MUST_USE;
/* Set remove: drops only the add ops the remover saw, so a concurrent add wins. */
void cs_object_remove(cs_object_t *obj, uint64_t field, uint32_t add_count, const uint8_t (*adds)[CS_ID_LEN]);
/* Tombstone: marks deleted and keeps every value for the audit. The earliest
 * (lamport, author) delete is recorded, so the result does not depend on order. */
void cs_object_delete(cs_object_t *obj, uint64_t lamport, const uint8_t author[CS_KEY_LEN]);

/* The live entries of a field: *first is the winner (greatest lamport, then
 * author); count > 1 on a register means a conflict. Returns count. */
uint32_t cs_object_field(const cs_object_t *obj, uint64_t field, const cs_entry_t **first);

/* Whether change c may name `obj` as the object of an op (or the parent of
 * a create): the object's creating change is in c's causal past. Returns
 * CS_OK, CS_EREF when it is not or when `obj` is NULL (no valid change
 * created it in that past either: an object the node does not hold and one
 * created concurrently get one verdict), or the oracle's error. An object
 * of c's own author needs no lookup (the author's earlier changes are c's
 * prev chain); another's costs two: the creating change's own seq, then
 * what c had seen of its author. */
int cs_object_seen(const cs_past_t *past, const cs_change_t *c, const cs_object_t *obj) CS_MUST_USE;

/* Decodes a str value into a NUL-terminated copy in out (truncating to
 * out_len-1); returns false when the value is not a string. */
bool cs_value_str(const uint8_t *value, size_t value_len, char *out, size_t out_len);

#endif

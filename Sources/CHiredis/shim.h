#ifndef CHIREDIS_SHIM_H
#define CHIREDIS_SHIM_H

#include <hiredis/hiredis.h>
#include <hiredis/read.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

/* The reply-function table below differs between hiredis 0.14 (Debian 12) and 1.x (RESP3
 * additions: createDouble, createBool; createArray takes a size_t). Both are supported;
 * anything older is refused here rather than miscompiled. */
#if !defined(HIREDIS_MAJOR) || (HIREDIS_MAJOR == 0 && HIREDIS_MINOR < 14)
#error "CHiredis needs hiredis 0.14 or newer (Debian: libhiredis-dev)"
#endif

/* Builds a struct timeval from milliseconds (for connect and socket timeouts). */
static inline struct timeval chiredis_timeval_ms(long ms) {
    struct timeval tv;
    tv.tv_sec = ms / 1000;
    tv.tv_usec = (ms % 1000) * 1000;
    return tv;
}

/*
 * A reply arena: hiredis's reader builds replies through these functions instead of one
 * calloc'd redisReply per element. Every reply element becomes one node, appended in
 * pre-order (an array's node, then its elements' subtrees); string bytes are appended to
 * one byte buffer, so the fields of a stream entry end up contiguous. The "object" handed
 * back to hiredis is the node index + 1 (never NULL). The arena is reset between batches.
 */
typedef struct chiredis_node {
    int type;            /* REDIS_REPLY_* */
    long long integer;   /* INTEGER: the value; ARRAY: the element count */
    size_t offset;       /* STRING, STATUS, ERROR: where the bytes start */
    size_t length;       /* ... and how many */
} chiredis_node;

typedef struct chiredis_arena {
    chiredis_node *nodes;
    size_t node_count, node_capacity;
    char *bytes;
    size_t byte_count, byte_capacity;
    int failed; /* allocation failure */
} chiredis_arena;

static inline long chiredis_arena_add(chiredis_arena *arena, int type, long long integer, const char *str, size_t len) {
    if (arena->node_count == arena->node_capacity) {
        size_t capacity = arena->node_capacity ? arena->node_capacity * 2 : 1024;
        chiredis_node *nodes = (chiredis_node *)realloc(arena->nodes, capacity * sizeof(chiredis_node));
        if (!nodes) { arena->failed = 1; return -1; }
        arena->nodes = nodes;
        arena->node_capacity = capacity;
    }
    chiredis_node *node = &arena->nodes[arena->node_count];
    node->type = type;
    node->integer = integer;
    node->offset = arena->byte_count;
    node->length = len;
    if (str && len) {
        if (arena->byte_count + len > arena->byte_capacity) {
            size_t capacity = arena->byte_capacity ? arena->byte_capacity * 2 : 65536;
            while (capacity < arena->byte_count + len) capacity *= 2;
            char *bytes = (char *)realloc(arena->bytes, capacity);
            if (!bytes) { arena->failed = 1; return -1; }
            arena->bytes = bytes;
            arena->byte_capacity = capacity;
        }
        memcpy(arena->bytes + arena->byte_count, str, len);
        arena->byte_count += len;
    }
    return (long)(arena->node_count++);
}

static inline void *chiredis_arena_object(long index) {
    return index < 0 ? NULL : (void *)(uintptr_t)(index + 1);
}

static inline void *chiredis_arena_create_string(const redisReadTask *task, char *str, size_t len) {
    return chiredis_arena_object(chiredis_arena_add((chiredis_arena *)task->privdata, task->type, 0, str, len));
}
#if HIREDIS_MAJOR >= 1
static inline void *chiredis_arena_create_array(const redisReadTask *task, size_t elements) {
    return chiredis_arena_object(chiredis_arena_add((chiredis_arena *)task->privdata, REDIS_REPLY_ARRAY, (long long)elements, NULL, 0));
}
/* RESP3 only (this client speaks RESP2): a double keeps its text, as RESP2 sends it. */
static inline void *chiredis_arena_create_double(const redisReadTask *task, double value, char *str, size_t len) {
    (void)value;
    return chiredis_arena_object(chiredis_arena_add((chiredis_arena *)task->privdata, REDIS_REPLY_STRING, 0, str, len));
}
/* RESP3 only: a boolean as the integer 1 or 0, as RESP2 sends it. */
static inline void *chiredis_arena_create_bool(const redisReadTask *task, int value) {
    return chiredis_arena_object(chiredis_arena_add((chiredis_arena *)task->privdata, REDIS_REPLY_INTEGER, value ? 1 : 0, NULL, 0));
}
#else
static inline void *chiredis_arena_create_array(const redisReadTask *task, int elements) {
    return chiredis_arena_object(chiredis_arena_add((chiredis_arena *)task->privdata, REDIS_REPLY_ARRAY, elements, NULL, 0));
}
#endif
static inline void *chiredis_arena_create_integer(const redisReadTask *task, long long value) {
    return chiredis_arena_object(chiredis_arena_add((chiredis_arena *)task->privdata, REDIS_REPLY_INTEGER, value, NULL, 0));
}
static inline void *chiredis_arena_create_nil(const redisReadTask *task) {
    return chiredis_arena_object(chiredis_arena_add((chiredis_arena *)task->privdata, REDIS_REPLY_NIL, 0, NULL, 0));
}
static inline void chiredis_arena_free_object(void *object) { (void)object; }

/* Filled by field name, so a reordered or extended table in another hiredis version is
 * a compile error or a NULL entry, never a function called with the wrong arguments. */
static redisReplyObjectFunctions chiredis_arena_functions = {
    .createString = chiredis_arena_create_string,
    .createArray = chiredis_arena_create_array,
    .createInteger = chiredis_arena_create_integer,
#if HIREDIS_MAJOR >= 1
    .createDouble = chiredis_arena_create_double,
    .createBool = chiredis_arena_create_bool,
#endif
    .createNil = chiredis_arena_create_nil,
    .freeObject = chiredis_arena_free_object,
};

/* Makes the context's reader build replies into `arena`. hiredis 1.x looks inside each
 * reply for RESP3 pushes when a push callback is set (by default it is): our replies are
 * arena indexes, not redisReply pointers, so no push callback may be set. */
static inline void chiredis_use_arena(redisContext *context, chiredis_arena *arena) {
    context->reader->fn = &chiredis_arena_functions;
    context->reader->privdata = arena;
#if HIREDIS_MAJOR >= 1
    redisSetPushCallback(context, NULL);
#endif
}

static inline void chiredis_arena_reset(chiredis_arena *arena) {
    arena->node_count = 0;
    arena->byte_count = 0;
    arena->failed = 0;
}

static inline void chiredis_arena_release(chiredis_arena *arena) {
    free(arena->nodes);
    free(arena->bytes);
    memset(arena, 0, sizeof(*arena));
}

/* Node index of an object returned by redisGetReply. */
static inline long chiredis_arena_index(void *object) { return (long)((uintptr_t)object - 1); }

#endif

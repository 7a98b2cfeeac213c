#include "system_calls.h"

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

// Bytes in front of every block: the length of its mapping, or 0 when it came from malloc. 16 keeps the block as
// aligned as malloc's.
enum { HEADER = 16 };

// How deep this thread is in cg_page_backing_enter.
static _Thread_local int page_backing_depth;

void cg_page_backing_enter(void) { page_backing_depth++; }
void cg_page_backing_leave(void) { page_backing_depth--; }

void *cg_buffer_allocate(size_t size) {
    if (size >= CG_PAGE_BACKED_MINIMUM && page_backing_depth > 0) {
        size_t page = (size_t)sysconf(_SC_PAGESIZE);
        size_t length = (size + HEADER + page - 1) / page * page;
        char *base = mmap(NULL, length, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (base != MAP_FAILED) {
            *(size_t *)base = length;
            return base + HEADER;
        }
    }
    char *base = malloc(size + HEADER);
    if (base == NULL) return NULL;
    *(size_t *)base = 0;
    return base + HEADER;
}

void cg_buffer_free(void *block) {
    char *base = (char *)block - HEADER;
    size_t length = *(size_t *)base;
    if (length == 0) free(base); else munmap(base, length);
}

void *cg_buffer_reallocate(void *block, size_t old_size, size_t new_size) {
    if (block == NULL) return cg_buffer_allocate(new_size);
    char *base = (char *)block - HEADER;
    if (*(size_t *)base == 0) {
        char *moved = realloc(base, new_size + HEADER);
        return moved == NULL ? NULL : moved + HEADER;
    }
    // A mapping is not resized in place: its bytes move to a new block (from malloc, unless page-backing).
    void *fresh = cg_buffer_allocate(new_size);
    if (fresh == NULL) return NULL;
    memcpy(fresh, block, old_size < new_size ? old_size : new_size);
    cg_buffer_free(block);
    return fresh;
}

void cg_buffer_copy(void *destination, const void *source, size_t count) { memcpy(destination, source, count); }

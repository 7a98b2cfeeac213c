#ifndef CHANNEL_GATEWAY_SYSTEM_CALLS_H
#define CHANNEL_GATEWAY_SYSTEM_CALLS_H

// The system calls that need raw pointers, done in C so that no pointer reaches Swift. Wrapped once, in
// Sources/Shared/Infrastructure/System: ChildSpawn (child processes) and TLSBufferAllocator (TLS buffers).

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#pragma clang assume_nonnull begin

/// Starts `path` with standard input and output (and error) on new pipes and returns 0, or an errno value.
/// `arguments` and `environment` are NUL-terminated strings laid end to end, `arguments` starting with argv[0].
/// The child starts with no signal blocked, every signal at its default, and no descriptor but 0, 1 and 2; our pipe
/// ends (`*input`, `*output`) are close-on-exec.
int cg_spawn(const char *path, const char *arguments, size_t arguments_length, const char *environment,
             size_t environment_length, pid_t *pid, int *input, int *output);

/// The exit status of child `pid` (128 + the signal's number when a signal ended it), or -1 while it runs (or when
/// it cannot be waited for). Blocks until it exits when `blocking` is non-zero.
int cg_reap(pid_t pid, int blocking);

/// Writes all `count` bytes to `fd`; returns 1, or 0 when it cannot (closed, or the reader is gone).
int cg_write_all(int fd, const uint8_t *bytes, size_t count);

/// Reads what comes next from `fd` into `buffer` (blocking); returns how many bytes, 0 at the end or on an error.
size_t cg_read(int fd, uint8_t *buffer, size_t capacity);

/// The TLS buffers' allocator (NIOCore's custom ByteBufferAllocator): a block of `CG_PAGE_BACKED_MINIMUM` bytes or
/// more asked for between `cg_page_backing_enter` and `cg_page_backing_leave` on the same thread gets pages of its
/// own (an anonymous mmap); every other block comes from malloc. Each block is 16-byte aligned and is released the
/// way it was made, whichever thread releases it.
enum { CG_PAGE_BACKED_MINIMUM = 16 * 1024 };
void cg_page_backing_enter(void);
void cg_page_backing_leave(void);
void *_Nullable cg_buffer_allocate(size_t size);
void *_Nullable cg_buffer_reallocate(void *_Nullable block, size_t old_size, size_t new_size);
void cg_buffer_free(void *block);
void cg_buffer_copy(void *destination, const void *source, size_t count);

#pragma clang assume_nonnull end

#endif

// What the C library knows of this process's memory, for metrics.

#ifndef ENFACE_PROCESS_MEMORY_H
#define ENFACE_PROCESS_MEMORY_H

#include <stddef.h>

/// Heap bytes handed out and not given back (glibc's mallinfo2: arenas plus mapped blocks);
/// 0 where the C library cannot tell.
size_t enface_heap_bytes(void);

/// Heap bytes given back to the allocator and kept by it for reuse rather than returned to the
/// system (glibc's free chunks in its arenas); 0 where the C library cannot tell.
size_t enface_heap_free_bytes(void);

#endif

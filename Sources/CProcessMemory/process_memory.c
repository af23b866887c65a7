#include "process_memory.h"

// <stdlib.h> first: it brings <features.h>, which is where glibc defines __GLIBC__. Testing
// __GLIBC__ before any C library header would always be false and both gauges always 0.
#include <stdlib.h>
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 33))
#include <malloc.h>
#define ENFACE_HAS_MALLINFO2 1
#endif

size_t enface_heap_bytes(void) {
#if defined(ENFACE_HAS_MALLINFO2)
    struct mallinfo2 info = mallinfo2();
    return info.uordblks + info.hblkhd;
#else
    return 0;
#endif
}

size_t enface_heap_free_bytes(void) {
#if defined(ENFACE_HAS_MALLINFO2)
    struct mallinfo2 info = mallinfo2();
    return info.fordblks;
#else
    return 0;
#endif
}

// OpenBLAS's CBLAS interface (Debian: libopenblas-dev, which also provides libblas.so).
#include <cblas.h>

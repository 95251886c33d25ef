// zlib (Debian: zlib1g-dev), for deflate-compressed PNG image data.
#include <zlib.h>

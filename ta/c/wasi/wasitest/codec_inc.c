/* The protocol codec (sockaddr encoding) the WASI layer uses. */
#include "../../src/codec.c"

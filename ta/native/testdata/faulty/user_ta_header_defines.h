/* A TA that fails on command, for ta/native's tests. */
#ifndef USER_TA_HEADER_DEFINES_H
#define USER_TA_HEADER_DEFINES_H

/* 6e2b9c1d-0f3a-4d5e-8b7c-1a2b3c4d5e6f */
#define TA_UUID { 0x6e2b9c1d, 0x0f3a, 0x4d5e, { 0x8b, 0x7c, 0x1a, 0x2b, 0x3c, 0x4d, 0x5e, 0x6f } }
#define TA_FLAGS 0
#define TA_STACK_SIZE (4 * 1024)
#define TA_DATA_SIZE (128 * 1024)

#endif

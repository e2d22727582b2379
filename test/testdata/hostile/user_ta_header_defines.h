/* A hostile native TA, for test/sandbox_test.go. */
#ifndef USER_TA_HEADER_DEFINES_H
#define USER_TA_HEADER_DEFINES_H

/* 0badc0de-5a4d-4b0c-8e11-7a2f3c4d5e6f */
#define TA_UUID { 0x0badc0de, 0x5a4d, 0x4b0c, { 0x8e, 0x11, 0x7a, 0x2f, 0x3c, 0x4d, 0x5e, 0x6f } }
#define TA_FLAGS 0
#define TA_STACK_SIZE (4 * 1024)
#define TA_DATA_SIZE (128 * 1024)

#endif

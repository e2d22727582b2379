/*
 * wasm_rt_ta.h - what wasm_rt_ta.c (the wasm2c runtime for a TA) takes
 * from the TA: the cap on the module's memory, in 64 KiB pages, which
 * ta/wasm2ta writes into ta_main.c. memory.grow past it fails; a module
 * whose initial memory exceeds it panics the TA at instantiation.
 */
#ifndef TZWASI_WASM_RT_TA_H
#define TZWASI_WASM_RT_TA_H

#include <stdint.h>

extern const uint32_t tzwasi_max_pages;

#endif

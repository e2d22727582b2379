/* The C echo TA's identity, shared by its user_ta_header_defines.h and by
 * clients that open it by UUID. */
#ifndef ECHO_TA_H
#define ECHO_TA_H

/* c1e0ec40-7a5e-4c2b-9d3f-0b6a2e8f4c10 */
#define TA_ECHO_UUID \
	{ 0xc1e0ec40, 0x7a5e, 0x4c2b, { 0x9d, 0x3f, 0x0b, 0x6a, 0x2e, 0x8f, 0x4c, 0x10 } }

/* Where it serves, as the built-in echo TA does (configs/echo.yaml):
 * TCP and UDP at 127.0.0.1 (-DECHO_TCP_PORT=... -DECHO_UDP_PORT=... to
 * move them), a UNIX stream socket at ECHO_UNIX_PATH in the TA's
 * directory, and the FIFOs /in and /out. */
#ifndef ECHO_TCP_PORT
#define ECHO_TCP_PORT 7000
#endif
#ifndef ECHO_UDP_PORT
#define ECHO_UDP_PORT 7001
#endif
#ifndef ECHO_UNIX_PATH
#define ECHO_UNIX_PATH "/echo.sock"
#endif

#endif /* ECHO_TA_H */

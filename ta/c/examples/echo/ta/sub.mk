# OP-TEE TA dev kit build of the C echo TA with libtzposix (see Makefile).
global-incdirs-y += include
# The usual POSIX headers (sys/socket.h, poll.h, ...) for the TA's own
# sources only, and libtzposix's headers for everything here.
incdirs-y += ../../../include/compat
global-incdirs-y += ../../../include

srcs-y += echo_ta.c

# libtzposix, compiled into the TA.
srcs-y += $(TZPOSIX_DIR)/src/codec.c
srcs-y += $(TZPOSIX_DIR)/src/posix.c
srcs-y += $(TZPOSIX_DIR)/src/entry.c
srcs-y += $(TZPOSIX_DIR)/src/coro_init.c
srcs-y += $(TZPOSIX_DIR)/src/coro.S

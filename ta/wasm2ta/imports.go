package main

// An import the C WASI layer (ta/c/wasi) provides: its parameter types as
// wasm2c declares them ('i' u32, 'I' u64), whether it returns an errno,
// and the call, with $0, $1 ... for the parameters and w for the layer.
type binding struct {
	params string
	result bool
	call   string
}

// enosys, espipe: functions WASI defines that the bridge cannot carry
// (docs/wasm.md): checked descriptor, then the errno.
const (
	wasiENOSYS = "52"
	wasiESPIPE = "70"
)

func fdThen(params, errno string) binding {
	return binding{params, true, "tzwasi_fd_check(w, $0, " + errno + ")"}
}

func fixed(params, errno string) binding {
	return binding{params, true, errno}
}

// wasiImports is every function of wasi_snapshot_preview1, as ta/wasm
// defines them.
var wasiImports = map[string]binding{
	"args_get":                {"ii", true, "tzwasi_args_get(w, $0, $1)"},
	"args_sizes_get":          {"ii", true, "tzwasi_args_sizes_get(w, $0, $1)"},
	"environ_get":             {"ii", true, "tzwasi_environ_get(w, $0, $1)"},
	"environ_sizes_get":       {"ii", true, "tzwasi_environ_sizes_get(w, $0, $1)"},
	"clock_res_get":           {"ii", true, "tzwasi_clock_res_get(w, $0, $1)"},
	"clock_time_get":          {"iIi", true, "tzwasi_clock_time_get(w, $0, $1, $2)"},
	"fd_advise":               fdThen("iIIi", wasiENOSYS),
	"fd_allocate":             fdThen("iII", wasiENOSYS),
	"fd_close":                {"i", true, "tzwasi_fd_close(w, $0)"},
	"fd_datasync":             fdThen("i", wasiENOSYS),
	"fd_fdstat_get":           {"ii", true, "tzwasi_fd_fdstat_get(w, $0, $1)"},
	"fd_fdstat_set_flags":     {"ii", true, "tzwasi_fd_fdstat_set_flags(w, $0, $1)"},
	"fd_fdstat_set_rights":    fdThen("iII", "0"),
	"fd_filestat_get":         {"ii", true, "tzwasi_fd_filestat_get(w, $0, $1)"},
	"fd_filestat_set_size":    fdThen("iI", wasiENOSYS),
	"fd_filestat_set_times":   fdThen("iIIi", wasiENOSYS),
	"fd_pread":                fdThen("iiiIi", wasiESPIPE),
	"fd_prestat_get":          {"ii", true, "tzwasi_fd_prestat_get(w, $0, $1)"},
	"fd_prestat_dir_name":     {"iii", true, "tzwasi_fd_prestat_dir_name(w, $0, $1, $2)"},
	"fd_pwrite":               fdThen("iiiIi", wasiESPIPE),
	"fd_read":                 {"iiii", true, "tzwasi_fd_read(w, $0, $1, $2, $3)"},
	"fd_readdir":              {"iiiIi", true, "tzwasi_fd_readdir(w, $0)"},
	"fd_renumber":             {"ii", true, "tzwasi_fd_renumber(w, $0, $1)"},
	"fd_seek":                 fdThen("iIii", wasiESPIPE),
	"fd_sync":                 fdThen("i", wasiENOSYS),
	"fd_tell":                 fdThen("ii", wasiESPIPE),
	"fd_write":                {"iiii", true, "tzwasi_fd_write(w, $0, $1, $2, $3)"},
	"path_create_directory":   {"iii", true, "tzwasi_path_create_directory(w, $0, $1, $2)"},
	"path_filestat_get":       {"iiiii", true, "tzwasi_path_filestat_get(w, $0, $1, $2, $3, $4)"},
	"path_filestat_set_times": fixed("iiiiIIi", wasiENOSYS),
	"path_link":               fixed("iiiiiii", wasiENOSYS),
	"path_open":               {"iiiiiIIii", true, "tzwasi_path_open(w, $0, $1, $2, $3, $4, $5, $6, $7, $8)"},
	"path_readlink":           fixed("iiiiii", wasiENOSYS),
	"path_remove_directory":   {"iii", true, "tzwasi_path_remove_directory(w, $0, $1, $2)"},
	"path_rename":             {"iiiiii", true, "tzwasi_path_rename(w, $0, $1, $2, $3, $4, $5)"},
	"path_symlink":            fixed("iiiii", wasiENOSYS),
	"path_unlink_file":        {"iii", true, "tzwasi_path_unlink_file(w, $0, $1, $2)"},
	"poll_oneoff":             {"iiii", true, "tzwasi_poll_oneoff(w, $0, $1, $2, $3)"},
	"proc_exit":               {"i", false, "ta_exit($0)"},
	"proc_raise":              fixed("i", wasiENOSYS),
	"sched_yield":             fixed("", "0"),
	"random_get":              {"ii", true, "tzwasi_random_get(w, $0, $1)"},
	"sock_accept":             {"iii", true, "tzwasi_sock_accept(w, $0, $1, $2)"},
	"sock_recv":               {"iiiiii", true, "tzwasi_sock_recv(w, $0, $1, $2, $3, $4, $5)"},
	"sock_send":               {"iiiii", true, "tzwasi_sock_send(w, $0, $1, $2, $3, $4)"},
	"sock_shutdown":           {"ii", true, "tzwasi_sock_shutdown(w, $0, $1)"},
}

// tzposixImports is the tzposix import module (docs/wasm.md).
var tzposixImports = map[string]binding{
	"socket":      {"iii", true, "tzwasi_tz_socket(w, $0, $1, $2)"},
	"bind":        {"iii", true, "tzwasi_tz_bind(w, $0, $1, $2)"},
	"connect":     {"iii", true, "tzwasi_tz_connect(w, $0, $1, $2)"},
	"listen":      {"ii", true, "tzwasi_tz_listen(w, $0, $1)"},
	"sendto":      {"iiiiiii", true, "tzwasi_tz_sendto(w, $0, $1, $2, $3, $4, $5, $6)"},
	"recvfrom":    {"iiiiiiii", true, "tzwasi_tz_recvfrom(w, $0, $1, $2, $3, $4, $5, $6, $7)"},
	"getsockname": {"iiii", true, "tzwasi_tz_getsockname(w, $0, $1, $2, $3)"},
	"getpeername": {"iiii", true, "tzwasi_tz_getpeername(w, $0, $1, $2, $3)"},
	"setsockopt":  {"iii", true, "tzwasi_tz_setsockopt(w, $0, $1, $2)"},
	"getsockopt":  {"iii", true, "tzwasi_tz_getsockopt(w, $0, $1, $2)"},
	"mkfifo":      {"iiii", true, "tzwasi_tz_mkfifo(w, $0, $1, $2, $3)"},
}

package teeclient_test

import (
	"bufio"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/tzmediator/tzbridge/teeclient"
)

// TestClientHeader compares the package's constants, and the TEEC names
// they print as, with OP-TEE's libteec header, tee_client_api.h, where
// one is at hand: $OPTEE_CLIENT_INCLUDE/tee_client_api.h, or
// /usr/include/tee_client_api.h (Debian's optee-client-dev, packaged for
// arm64 and armhf). Every constant must be defined there, by its name,
// with the same value.
func TestClientHeader(t *testing.T) {
	path := "/usr/include/tee_client_api.h"
	if dir := os.Getenv("OPTEE_CLIENT_INCLUDE"); dir != "" {
		path = filepath.Join(dir, "tee_client_api.h")
	}
	f, err := os.Open(path)
	if os.IsNotExist(err) {
		t.Skipf("no %s (set OPTEE_CLIENT_INCLUDE to optee_client's libteec/include)", path)
	}
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	defs := map[string]uint64{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 3 || fields[0] != "#define" {
			continue
		}
		if v, err := strconv.ParseUint(fields[2], 0, 32); err == nil {
			defs[fields[1]] = v
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}

	type named interface {
		String() string
	}
	var consts []struct {
		c named
		v uint64
	}
	add := func(c named, v uint64) {
		consts = append(consts, struct {
			c named
			v uint64
		}{c, v})
	}
	for _, r := range []teeclient.Result{
		teeclient.Success, teeclient.ErrorGeneric, teeclient.ErrorAccessDenied, teeclient.ErrorCancel,
		teeclient.ErrorAccessConflict, teeclient.ErrorExcessData, teeclient.ErrorBadFormat,
		teeclient.ErrorBadParameters, teeclient.ErrorBadState, teeclient.ErrorItemNotFound,
		teeclient.ErrorNotImplemented, teeclient.ErrorNotSupported, teeclient.ErrorNoData,
		teeclient.ErrorOutOfMemory, teeclient.ErrorBusy, teeclient.ErrorCommunication,
		teeclient.ErrorSecurity, teeclient.ErrorShortBuffer, teeclient.ErrorExternalCancel,
		teeclient.ErrorTargetDead,
	} {
		add(r, uint64(r))
	}
	for _, o := range []teeclient.Origin{teeclient.OriginAPI, teeclient.OriginComms, teeclient.OriginTEE, teeclient.OriginTrustedApp} {
		add(o, uint64(o))
	}
	for _, l := range []teeclient.LoginMethod{
		teeclient.LoginPublic, teeclient.LoginUser, teeclient.LoginGroup,
		teeclient.LoginApplication, teeclient.LoginUserApplication, teeclient.LoginGroupApplication,
	} {
		add(l, uint64(l))
	}
	for _, p := range []teeclient.ParamType{
		teeclient.None, teeclient.ValueInput, teeclient.ValueOutput, teeclient.ValueInout,
		teeclient.MemrefTempInput, teeclient.MemrefTempOutput, teeclient.MemrefTempInout,
		teeclient.MemrefWhole, teeclient.MemrefPartialInput, teeclient.MemrefPartialOutput,
		teeclient.MemrefPartialInout,
	} {
		add(p, uint64(p))
	}
	for _, c := range consts {
		name := c.c.String()
		got, ok := defs[name]
		switch {
		case !ok:
			t.Errorf("%s (%#x) is not defined in %s", name, c.v, path)
		case got != c.v:
			t.Errorf("%s: %#x here, %#x in %s", name, c.v, got, path)
		}
	}
	for name, v := range map[string]uint64{
		"TEEC_MEM_INPUT":                uint64(teeclient.MemInput),
		"TEEC_MEM_OUTPUT":               uint64(teeclient.MemOutput),
		"TEEC_CONFIG_PAYLOAD_REF_COUNT": teeclient.NumParams,
	} {
		if got, ok := defs[name]; !ok || got != v {
			t.Errorf("%s: %#x here, %#x (defined: %v) in %s", name, v, got, ok, path)
		}
	}
}

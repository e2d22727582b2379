//go:build wasip1

// Command big is a test TA of about 10 MB: it links in an HTTP server and
// client with TLS, JSON and templates, so that the time a large module
// takes to start can be measured. It says it is ready and exits.
package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"text/template"
)

var keep = []any{http.ListenAndServe, http.Get, json.Marshal, template.New}

func main() {
	fmt.Println("big: ready", len(keep))
}

// The Go "service" of bench/run.sh's cold-start figures: the start-up of a binary the size of
// a small service (5.4 MB: net/http, crypto/tls, database/sql, encoding/json and xml,
// html/template, net/rpc, regexp, compress/gzip linked in and their package initialisers
// run), up to the point where it would start serving; then one line of output. Its text and
// read-only data span more than 2 MiB, which the guest maps with a large page.
package main

import (
	"compress/gzip"
	"crypto/tls"
	"database/sql"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"html/template"
	"io"
	"net/http"
	"net/rpc"
	"regexp"
)

func main() {
	_ = tls.Config{}
	_ = sql.Drivers()
	_, _ = xml.Marshal(struct{ A int }{1})
	_ = template.New("page")
	_ = rpc.NewServer()
	_ = regexp.MustCompile("a+b")
	_ = gzip.NewWriter(io.Discard)
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {})
	b, _ := json.Marshal(map[string]int{"ready": 1})
	fmt.Println(string(b))
}

package statuspage

import (
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"strings"
)

// The page is written as five files, for reading and editing, and served
// as one document: the style and the script (render.js, graph.js, app.js, in
// one function scope) are put inline into index.html once, at start-up,
// and allowed by the Content-Security-Policy by their hashes.
//
//go:embed page/index.html page/style.css page/render.js page/graph.js page/app.js
var pageFiles embed.FS

var (
	pageHTML []byte // the whole page
	pageCSP  string // its Content-Security-Policy
)

func init() {
	read := func(name string) string {
		b, err := pageFiles.ReadFile("page/" + name)
		if err != nil {
			panic("statuspage: embedded " + name + ": " + err.Error()) // cannot happen: embedded above
		}
		return string(b)
	}
	style := read("style.css")
	script := "(function () {\n\"use strict\";\n" + read("render.js") + read("graph.js") + read("app.js") + "})();\n"
	// index.html puts each on a line of its own between the tags.
	doc := strings.Replace(read("index.html"), "{{STYLE}}", style, 1)
	doc = strings.Replace(doc, "{{SCRIPT}}", script, 1)
	pageHTML = []byte(doc)
	pageCSP = "default-src 'none'; " +
		"script-src " + hashSource("\n"+script+"\n") + "; " +
		"style-src " + hashSource("\n"+style+"\n") + "; " +
		"connect-src 'self'; img-src data:; " +
		"base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
}

// hashSource is the CSP source expression that allows an inline element
// whose text is s.
func hashSource(s string) string {
	sum := sha256.Sum256([]byte(s))
	return "'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'"
}

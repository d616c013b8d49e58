package servicemesh_test

// Every ```go block in README.md and in docs/*.md must compile as written.
// A block that starts with a package clause is a whole file. Any other
// block is a fragment: one made only of declarations is checked as a file
// of its own package, one made of statements as the body of a function. A
// fragment gets an import for each package in readmeImports that it uses,
// and must otherwise stand alone: it cannot use what another block
// declares. Shell commands and go.mod lines belong in ```sh or plain ```
// blocks.
//
// A block whose fence is directly preceded by a line
//
//	<!-- not compiled yet: REASON -->
//
// is not checked, and the test logs it with its reason: for a block that
// shows an API still on its way. Once such a block compiles, the test fails
// and says to remove the line, so that no block stays unchecked for longer
// than it must.
//
// A block that imports a module of its own (leader/, otelmesh/), which this
// module does not require, is compiled by a test of that module instead:
// its fence is directly preceded by a line
//
//	<!-- compiled by leader/docs_test.go -->
//
// naming that test's file, which must exist and name the Markdown file.
//
// The blocks are type-checked with go/types against the export data that
// `go list -export` reports for the packages they import, so they are
// checked against this repository's own package as it is now, with no
// network, and in about a second once the build cache is warm.

import (
	"errors"
	"fmt"
	"go/ast"
	"go/importer"
	"go/parser"
	"go/scanner"
	"go/token"
	"go/types"
	"io"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"testing"
)

const readmePath = "README.md"

// docsGlob matches the documentation pages whose blocks are checked too.
const docsGlob = "docs/*.md"

// skipMarker opens the line that makes the next ```go block unchecked (see
// the top of this file); the rest of the line, up to "-->", is the reason.
const skipMarker = "<!-- not compiled yet:"

// elsewhereMarker opens the line that hands the next ```go block to a test
// of another module (see the top of this file); the rest of the line, up
// to "-->", is that test's file, relative to the repository's root.
const elsewhereMarker = "<!-- compiled by "

// readmeImports maps the package names that README fragments may use
// without importing them to their import paths.
var readmeImports = map[string]string{
	"atomic":      "sync/atomic",
	"context":     "context",
	"ee":          "github.com/gravestench/eventemitter",
	"errors":      "errors",
	"fmt":         "fmt",
	"health":      "github.com/gravestench/servicemesh/health",
	"statuspage":  "github.com/gravestench/servicemesh/statuspage",
	"http":        "net/http",
	"httpserver":  "github.com/gravestench/servicemesh/httpserver",
	"io":          "io",
	"json":        "encoding/json",
	"log":         "log",
	"meshtest":    "github.com/gravestench/servicemesh/meshtest",
	"os":          "os",
	"servicemesh": "github.com/gravestench/servicemesh",
	"slog":        "log/slog",
	"sql":         "database/sql",
	"strings":     "strings",
	"sync":        "sync",
	"testing":     "testing",
	"time":        "time",
}

// readmeBlock is one ```go block of a Markdown file.
type readmeBlock struct {
	path string // the Markdown file
	line int    // line of the block's first line of code in path
	code string
	skip string // why it is not compiled yet (see skipMarker), or ""
	// elsewhere is the test file of another module that compiles it (see
	// elsewhereMarker), or "".
	elsewhere string
}

// goBlocks returns the ```go blocks of the Markdown text of path, in order.
func goBlocks(path, markdown string) []readmeBlock {
	var blocks []readmeBlock
	var cur *readmeBlock
	var fence, prev string
	for i, line := range strings.Split(markdown, "\n") {
		trimmed := strings.TrimSpace(line)
		if cur == nil && fence == "" {
			if strings.HasPrefix(trimmed, "```") {
				fence = "```"
				info := strings.Fields(strings.TrimPrefix(trimmed, "```"))
				if len(info) > 0 && info[0] == "go" {
					cur = &readmeBlock{path: path, line: i + 2}
					if reason, ok := strings.CutPrefix(prev, skipMarker); ok {
						cur.skip = strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(reason), "-->"))
						if cur.skip == "" {
							cur.skip = "no reason given"
						}
					}
					if by, ok := strings.CutPrefix(prev, elsewhereMarker); ok {
						cur.elsewhere = strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(by), "-->"))
					}
				}
			}
			prev = trimmed
			continue
		}
		if trimmed == fence {
			if cur != nil {
				blocks = append(blocks, *cur)
			}
			cur, fence, prev = nil, "", trimmed
			continue
		}
		if cur != nil {
			cur.code += line + "\n"
		}
	}
	return blocks
}

// parsedBlock is a Markdown block made into a Go file.
type parsedBlock struct {
	readmeBlock
	file *ast.File
}

// parseBlock makes b into a file: as it is when it starts with a package
// clause, else wrapped as declarations or as the body of a function, with
// the imports it needs. Positions are the Markdown file's lines.
func parseBlock(fset *token.FileSet, b readmeBlock) (*ast.File, error) {
	directive := fmt.Sprintf("//line %s:%d:1\n", b.path, b.line)
	name := fmt.Sprintf("%s:%d", filepath.Base(b.path), b.line) // no directory: the //line path is relative to it
	if startsWithToken(b.code, token.PACKAGE) {
		return parser.ParseFile(fset, name, directive+b.code, parser.SkipObjectResolution)
	}

	// A fragment: declarations if it parses as such, else statements.
	wraps := []struct{ head, tail string }{
		{"package readme\n", ""},
		{"package readme\nfunc _() {\n", "\n}\n"},
	}
	if !startsWithDecl(b.code) {
		wraps[0], wraps[1] = wraps[1], wraps[0]
	}
	var file *ast.File
	var head, tail string
	var firstErr error
	for _, w := range wraps {
		f, err := parser.ParseFile(fset, name, w.head+directive+b.code+w.tail, parser.SkipObjectResolution)
		if err == nil {
			file, head, tail = f, w.head, w.tail
			break
		}
		if firstErr == nil {
			firstErr = err
		}
	}
	if file == nil {
		return nil, firstErr
	}

	// Import what it uses of readmeImports and does not import itself.
	have := map[string]bool{}
	for _, spec := range file.Imports {
		path, _ := strconv.Unquote(spec.Path.Value)
		n := path[strings.LastIndex(path, "/")+1:]
		if spec.Name != nil {
			n = spec.Name.Name
		}
		have[n] = true
	}
	var imports []string
	ast.Inspect(file, func(n ast.Node) bool {
		if sel, ok := n.(*ast.SelectorExpr); ok {
			if id, ok := sel.X.(*ast.Ident); ok {
				if path, ok := readmeImports[id.Name]; ok && !have[id.Name] {
					have[id.Name] = true
					imports = append(imports, fmt.Sprintf("import %s %q\n", id.Name, path))
				}
			}
		}
		return true
	})
	if len(imports) == 0 {
		return file, nil
	}
	slices.Sort(imports)
	head = strings.Replace(head, "package readme\n", "package readme\n"+strings.Join(imports, ""), 1)
	return parser.ParseFile(fset, name, head+directive+b.code+tail, parser.SkipObjectResolution)
}

// startsWithToken reports whether the first token of src is tok.
func startsWithToken(src string, tok token.Token) bool {
	var s scanner.Scanner
	fset := token.NewFileSet()
	s.Init(fset.AddFile("", -1, len(src)), []byte(src), nil, 0)
	_, first, _ := s.Scan()
	return first == tok
}

// startsWithDecl reports whether src begins with a declaration keyword.
func startsWithDecl(src string) bool {
	for _, tok := range []token.Token{token.FUNC, token.TYPE, token.VAR, token.CONST, token.IMPORT} {
		if startsWithToken(src, tok) {
			return true
		}
	}
	return false
}

// exportImporter returns an importer that reads the export data `go list
// -export` reports for paths and everything they depend on. It builds with
// -race when this test binary was, so that the build cache the test run
// has just filled answers.
func exportImporter(t *testing.T, fset *token.FileSet, paths []string) types.Importer {
	t.Helper()
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command to list export data with:", err)
	}
	args := []string{"list", "-e", "-export", "-deps", "-f", "{{if .Export}}{{.ImportPath}}={{.Export}}{{end}}"}
	if info, ok := debug.ReadBuildInfo(); ok {
		for _, s := range info.Settings {
			if s.Key == "-race" && s.Value == "true" {
				args = append(args, "-race")
			}
		}
	}
	cmd := exec.Command(gobin, append(args, paths...)...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	exports := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if path, file, ok := strings.Cut(line, "="); ok {
			exports[path] = file
		}
	}
	return importer.ForCompiler(fset, "gc", func(path string) (io.ReadCloser, error) {
		file, ok := exports[path]
		if !ok {
			return nil, fmt.Errorf("no export data for %q: add the package to readmeImports in readme_test.go", path)
		}
		return os.Open(file)
	})
}

// markdownFiles returns README.md and the pages under docs/.
func markdownFiles(t *testing.T) []string {
	t.Helper()
	docs, err := filepath.Glob(docsGlob)
	if err != nil {
		t.Fatal(err)
	}
	return append([]string{readmePath}, docs...)
}

func TestReadmeGoBlocksCompile(t *testing.T) {
	var blocks []readmeBlock
	for _, path := range markdownFiles(t) {
		text, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		blocks = append(blocks, goBlocks(path, string(text))...)
	}
	if len(blocks) == 0 {
		t.Fatalf("found no ```go blocks in %s and %s", readmePath, docsGlob)
	}

	fset := token.NewFileSet()
	var parsed []parsedBlock
	paths := map[string]bool{}
	for _, b := range blocks {
		if b.elsewhere != "" {
			checkedElsewhere(t, b)
			continue
		}
		f, err := parseBlock(fset, b)
		if err != nil {
			if b.skip != "" {
				t.Logf("%s:%d: not compiled yet (%s)", b.path, b.line, b.skip)
				continue
			}
			t.Errorf("%s:%d: block does not parse as a file, declarations or statements:\n%v", b.path, b.line, err)
			continue
		}
		for _, spec := range f.Imports {
			path, _ := strconv.Unquote(spec.Path.Value)
			paths[path] = true
		}
		parsed = append(parsed, parsedBlock{b, f})
	}
	if len(parsed) == 0 {
		return
	}
	delete(paths, "unsafe") // built into the importer; go list reports no export data for it
	imp := exportImporter(t, fset, slices.Sorted(maps.Keys(paths)))

	for _, p := range parsed {
		var errs []error
		conf := types.Config{Importer: imp, Error: func(err error) { errs = append(errs, err) }}
		_, _ = conf.Check("readme", fset, []*ast.File{p.file}, nil)
		switch {
		case p.skip != "" && len(errs) == 0:
			t.Errorf("%s:%d: the block compiles now: remove the %q line above it (%s)", p.path, p.line, skipMarker+" ... -->", p.skip)
		case p.skip != "":
			t.Logf("%s:%d: not compiled yet (%s)", p.path, p.line, p.skip)
		case len(errs) > 0:
			t.Errorf("%s: block at line %d does not compile:\n%v\n--- block ---\n%s", p.path, p.line, errors.Join(errs...), p.code)
		}
	}
}

// checkedElsewhere fails unless the test file that b's marker names exists
// and names b's Markdown file, which it is to compile.
func checkedElsewhere(t *testing.T, b readmeBlock) {
	t.Helper()
	text, err := os.ReadFile(filepath.FromSlash(b.elsewhere))
	if err != nil {
		t.Errorf("%s:%d: the block is to be compiled by %s: %v", b.path, b.line, b.elsewhere, err)
		return
	}
	if !strings.Contains(string(text), filepath.ToSlash(b.path)) {
		t.Errorf("%s:%d: %s is to compile the block, but does not name %s", b.path, b.line, b.elsewhere, b.path)
	}
}

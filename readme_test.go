package servicemesh_test

// Every ```go block in README.md must compile as written. A block that
// starts with a package clause is a whole file. Any other block is a
// fragment: one made only of declarations is checked as a file of its own
// package, one made of statements as the body of a function. A fragment
// gets an import for each package in readmeImports that it uses, and must
// otherwise stand alone: it cannot use what another block declares. Shell
// commands and go.mod lines belong in ```sh or plain ``` blocks.
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
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"testing"
)

const readmePath = "README.md"

// readmeImports maps the package names that README fragments may use
// without importing them to their import paths.
var readmeImports = map[string]string{
	"atomic":      "sync/atomic",
	"context":     "context",
	"ee":          "github.com/gravestench/eventemitter",
	"errors":      "errors",
	"fmt":         "fmt",
	"health":      "github.com/gravestench/servicemesh/health",
	"http":        "net/http",
	"io":          "io",
	"json":        "encoding/json",
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

// readmeBlock is one ```go block of the README.
type readmeBlock struct {
	line int // README line of the block's first line of code
	code string
}

// goBlocks returns the ```go blocks of a Markdown text, in order.
func goBlocks(markdown string) []readmeBlock {
	var blocks []readmeBlock
	var cur *readmeBlock
	var fence string
	for i, line := range strings.Split(markdown, "\n") {
		trimmed := strings.TrimSpace(line)
		if cur == nil && fence == "" {
			if strings.HasPrefix(trimmed, "```") {
				fence = "```"
				info := strings.Fields(strings.TrimPrefix(trimmed, "```"))
				if len(info) > 0 && info[0] == "go" {
					cur = &readmeBlock{line: i + 2}
				}
			}
			continue
		}
		if trimmed == fence {
			if cur != nil {
				blocks = append(blocks, *cur)
			}
			cur, fence = nil, ""
			continue
		}
		if cur != nil {
			cur.code += line + "\n"
		}
	}
	return blocks
}

// parsedBlock is a README block made into a Go file.
type parsedBlock struct {
	readmeBlock
	file *ast.File
}

// parseBlock makes b into a file: as it is when it starts with a package
// clause, else wrapped as declarations or as the body of a function, with
// the imports it needs. Positions are README.md's lines.
func parseBlock(fset *token.FileSet, b readmeBlock) (*ast.File, error) {
	directive := fmt.Sprintf("//line %s:%d:1\n", readmePath, b.line)
	name := fmt.Sprintf("%s:%d", readmePath, b.line)
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
	args := []string{"list", "-export", "-deps", "-f", "{{if .Export}}{{.ImportPath}}={{.Export}}{{end}}"}
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

func TestReadmeGoBlocksCompile(t *testing.T) {
	readme, err := os.ReadFile(readmePath)
	if err != nil {
		t.Fatal(err)
	}
	blocks := goBlocks(string(readme))
	if len(blocks) == 0 {
		t.Fatalf("found no ```go blocks in %s", readmePath)
	}

	fset := token.NewFileSet()
	var parsed []parsedBlock
	paths := map[string]bool{}
	for _, b := range blocks {
		f, err := parseBlock(fset, b)
		if err != nil {
			t.Errorf("%s:%d: block does not parse as a file, declarations or statements:\n%v", readmePath, b.line, err)
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
		if len(errs) > 0 {
			t.Errorf("README block at line %d does not compile:\n%v\n--- block ---\n%s", p.line, errors.Join(errs...), p.code)
		}
	}
}

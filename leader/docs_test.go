package leader_test

// The core's readme_test.go compiles every ```go block of README.md and
// docs/*.md against the core module, which does not require this module or
// the etcd client. A block that imports them is handed to this test by
// the line "<!-- compiled by leader/docs_test.go -->" above its fence
// (the core's test checks that this file exists and names the page), and
// compiled here instead, against this module: each must be a whole file
// (it starts with a package clause).

import (
	"errors"
	"go/ast"
	"go/importer"
	"go/parser"
	"go/token"
	"go/types"
	"io"
	"os"
	"os/exec"
	"runtime/debug"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// docsHere is the line above a block that this test compiles.
const docsHere = "<!-- compiled by leader/docs_test.go -->"

// docBlock is one ```go block, with the line its code starts on.
type docBlock struct {
	path string
	line int
	code string
}

// markedBlocks returns the ```go blocks of path whose fence is preceded by
// a line naming docsHere.
func markedBlocks(t *testing.T, path string) []docBlock {
	t.Helper()
	text, err := os.ReadFile(path)
	require.NoError(t, err)
	var blocks []docBlock
	var cur *docBlock
	prev := ""
	for i, line := range strings.Split(string(text), "\n") {
		trimmed := strings.TrimSpace(line)
		switch {
		case cur != nil && trimmed == "```":
			blocks = append(blocks, *cur)
			cur = nil
		case cur != nil:
			cur.code += line + "\n"
		case trimmed == "```go" && prev == docsHere:
			cur = &docBlock{path: path, line: i + 2}
		}
		prev = trimmed
	}
	return blocks
}

func TestDocsBlocksCompile(t *testing.T) {
	var blocks []docBlock
	for _, path := range []string{"../README.md", "../docs/replicas.md"} {
		blocks = append(blocks, markedBlocks(t, path)...)
	}
	require.GreaterOrEqual(t, len(blocks), 2, "docs/replicas.md shows a singleton and a fenced write")

	fset := token.NewFileSet()
	var files []*ast.File
	paths := map[string]bool{}
	for _, b := range blocks {
		f, err := parser.ParseFile(fset, b.path+":"+strconv.Itoa(b.line), b.code, parser.SkipObjectResolution)
		require.NoError(t, err, "%s:%d must be a whole Go file", b.path, b.line)
		for _, spec := range f.Imports {
			p, _ := strconv.Unquote(spec.Path.Value)
			paths[p] = true
		}
		files = append(files, f)
	}
	imp := exportImporter(t, fset, paths)
	for i, f := range files {
		var errs []error
		conf := types.Config{Importer: imp, Error: func(err error) { errs = append(errs, err) }}
		_, _ = conf.Check(f.Name.Name, fset, []*ast.File{f}, nil)
		assert.Empty(t, errs, "%s:%d does not compile: %v", blocks[i].path, blocks[i].line, errors.Join(errs...))
	}
}

// exportImporter reads the export data `go list -export` reports for paths
// and what they depend on, built with -race when this test binary was.
func exportImporter(t *testing.T, fset *token.FileSet, paths map[string]bool) types.Importer {
	t.Helper()
	args := []string{"list", "-export", "-deps", "-f", "{{if .Export}}{{.ImportPath}}={{.Export}}{{end}}"}
	if info, ok := debug.ReadBuildInfo(); ok {
		for _, s := range info.Settings {
			if s.Key == "-race" && s.Value == "true" {
				args = append(args, "-race")
			}
		}
	}
	for p := range paths {
		args = append(args, p)
	}
	out, err := exec.Command("go", args...).Output()
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, exit.Stderr)
	}
	require.NoError(t, err)
	exports := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if p, file, ok := strings.Cut(line, "="); ok {
			exports[p] = file
		}
	}
	return importer.ForCompiler(fset, "gc", func(path string) (io.ReadCloser, error) {
		file, ok := exports[path]
		if !ok {
			return nil, errors.New("no export data for " + path)
		}
		return os.Open(file)
	})
}

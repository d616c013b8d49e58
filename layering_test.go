package servicemesh_test

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The layers (DESIGN §4): the machinery lives in internal packages that
// import nothing above them — not the root package, not its public
// subpackages — so that the compiler keeps the parts apart. An internal
// package may import the standard library, the event bus, and internal
// packages.
func TestInternalPackagesImportNothingAboveThem(t *testing.T) {
	const module = "github.com/gravestench/servicemesh"
	out, err := exec.Command("go", "list", "-f", `{{.ImportPath}} {{join .Deps " "}}`, "./internal/...").CombinedOutput()
	require.NoError(t, err, "%s", out)
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	require.NotEmpty(t, lines)
	for _, line := range lines {
		fields := strings.Fields(line)
		pkg, deps := fields[0], fields[1:]
		require.True(t, strings.HasPrefix(pkg, module+"/internal/"), pkg)
		for _, d := range deps {
			if d == module || strings.HasPrefix(d, module+"/") && !strings.HasPrefix(d, module+"/internal/") {
				assert.Failf(t, "an internal package imports a package above it", "%s imports %s", pkg, d)
			}
		}
	}
}

package sched

import (
	"os/exec"
	"strings"
	"testing"
)

// The scheduler stays below the mesh: of the module's packages it may
// import internal/timing only, so it cannot reach into the root package or
// any other part (DESIGN §4).
func TestImportsNothingOfTheMeshButTiming(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").Output()
	if err != nil {
		t.Skipf("go list: %v", err)
	}
	const module = "github.com/gravestench/servicemesh"
	allowed := map[string]bool{module + "/internal/sched": true, module + "/internal/timing": true}
	for _, p := range strings.Fields(string(out)) {
		if (p == module || strings.HasPrefix(p, module+"/")) && !allowed[p] {
			t.Errorf("internal/sched depends on %s", p)
		}
	}
}

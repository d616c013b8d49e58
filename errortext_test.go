package servicemesh_test

// What the mesh's errors say: each names what went wrong once.

import (
	"errors"
	"strings"
	"testing"

	"github.com/gravestench/servicemesh"
	"github.com/stretchr/testify/assert"
)

// Guards: a ResolutionError wrapping a PanicError names the panic once.
func TestResolutionErrorNamesThePanicOnce(t *testing.T) {
	err := &servicemesh.ResolutionError{
		Service: "bad",
		Err:     &servicemesh.PanicError{Service: "bad", Call: "ResolveDependencies", Value: errors.New("boom")},
	}
	msg := err.Error()
	assert.Equal(t, 1, strings.Count(msg, "servicemesh:"), msg)
	assert.Contains(t, msg, `"bad" panicked in ResolveDependencies: boom`)
	assert.ErrorIs(t, err, servicemesh.ErrServicePanicked)
}

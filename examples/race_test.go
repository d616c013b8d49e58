//go:build race

package examples_test

// raceEnabled is true when the tests run with -race; the examples are then
// built with -race as well.
const raceEnabled = true

//go:build race

package benchmarks

// raceEnabled reports whether the race detector is on: it allows at most
// 8128 live goroutines, fewer than 10,000 waiting services need.
const raceEnabled = true

package main

// Formatting helpers of the table: bars, durations, counts, and the
// README section they are written into.

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"os"
	"strconv"
)

// bar is one performance requirement: value must not exceed limit.
type bar struct {
	name      string
	value     float64
	ok        bool // whether value could be computed
	limit     float64
	shown     string // how value is shown
	notJudged string // why the value is shown but not judged; "" if it is judged
}

func orMissing(ok bool, s string) string {
	if !ok {
		return "not measured"
	}
	return s
}

// orDash returns s, or a dash if !ok.
func orDash(ok bool, s string) string {
	if !ok {
		return "—"
	}
	return s
}

// duration formats nanoseconds with three significant digits.
func duration(ns float64) string {
	switch {
	case ns >= 1e9:
		return fmt.Sprintf("%.3g s", ns/1e9)
	case ns >= 1e6:
		return fmt.Sprintf("%.3g ms", ns/1e6)
	case ns >= 1e3:
		return fmt.Sprintf("%.3g µs", ns/1e3)
	}
	return fmt.Sprintf("%.3g ns", ns)
}

// count formats a count with thousands separators.
func count(v float64) string {
	s := strconv.FormatFloat(math.Round(v), 'f', 0, 64)
	var out []byte
	for i := range len(s) {
		if i > 0 && (len(s)-i)%3 == 0 {
			out = append(out, ',')
		}
		out = append(out, s[i])
	}
	return string(out)
}

// replaceSection writes section between the markers of the README at path.
func replaceSection(path, section string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	start := bytes.Index(data, []byte(startMarker))
	end := bytes.Index(data, []byte(endMarker))
	if start < 0 || end < start {
		return errors.New(path + ": the markers " + startMarker + " and " + endMarker + " are missing")
	}
	var out bytes.Buffer
	out.Write(data[:start+len(startMarker)])
	out.WriteString("\n")
	out.WriteString(section)
	out.Write(data[end:])
	return os.WriteFile(path, out.Bytes(), 0o644)
}

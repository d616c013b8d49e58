package statuspage

// The encoding of one change as one Server-Sent Events message, by hand:
// it is on the path of every change to every client, and encoding/json's
// reflection would cost more than the rest of the message.

import (
	"errors"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gravestench/servicemesh"
)

// appendMessage appends c to b as one message of the default type, its
// data one JSON object on one line (see the package documentation).
func appendMessage(b []byte, c servicemesh.Change, showErrors bool) []byte {
	if c.Err != nil && errors.Is(c.Err, servicemesh.ErrChangesLost) {
		return appendLost(b, uint64(lostCount(c.Err)), c.Time)
	}
	b = append(b, `data: {"service":`...)
	b = appendString(b, c.Service)
	switch {
	case c.Service == "":
		b = append(b, `,"mesh":`...)
		b = appendString(b, c.Mesh.String())
	default:
		b = append(b, `,"from":`...)
		b = appendString(b, c.From.String())
		b = append(b, `,"to":`...)
		b = appendString(b, c.To.String())
	}
	b = append(b, `,"time":"`...)
	b = c.Time.UTC().AppendFormat(b, time.RFC3339Nano)
	b = append(b, '"')
	if showErrors && c.Err != nil {
		b = append(b, `,"error":`...)
		b = appendString(b, c.Err.Error())
	}
	return append(b, "}\n\n"...)
}

// appendLost appends the message that tells n changes were lost (0: how
// many is unknown).
func appendLost(b []byte, n uint64, at time.Time) []byte {
	b = append(b, `data: {"service":"","lost":`...)
	b = strconv.AppendUint(b, n, 10)
	b = append(b, `,"time":"`...)
	b = at.UTC().AppendFormat(b, time.RFC3339Nano)
	return append(b, "\"}\n\n"...)
}

// lostCount reads how many changes were lost from the text of the error
// Subscribe tells them with, which ends with the count; at least 1.
func lostCount(err error) int {
	s := err.Error()
	if i := strings.LastIndexByte(s, ' '); i >= 0 {
		s = s[i+1:]
	}
	if n, e := strconv.Atoi(s); e == nil && n > 0 {
		return n
	}
	return 1
}

const hexDigits = "0123456789abcdef"

// appendString appends s as a JSON string, escaped as encoding/json does:
// control characters, quote and backslash, and <, >, & (so that the text
// is harmless in HTML too), U+2028 and U+2029 (line separators to
// JavaScript); invalid UTF-8 becomes U+FFFD. No raw line break can end up
// in the output, which a Server-Sent Events data line must not hold.
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

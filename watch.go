package servicemesh

import (
	"reflect"
	"sync"
	"unsafe"
)

// Which services does a waiting resolver hold? After an attempt that did not
// resolve, the mesh looks at the words of the resolver's struct that can hold
// a service's address (pointer fields, and the data word of interface
// fields, also inside structs held by value) and wakes the resolver when one
// of those services is initialized or removed. The answer is only a hint for
// whom to wake first: every waiting resolver is also re-run shortly after any
// change (in a broadcast, see internal/sched), and polled.
//
// It earns its place on chains of dependencies: each link is re-run on its
// own goroutine the moment the service it holds is initialized, not at the
// next broadcast, which with thousands of waiters may be tens of
// milliseconds away. Its limits, all of which only delay a re-run to the
// next broadcast: it looks maxFieldDepth levels into structs held by value,
// not into slices, maps, arrays or what pointers point to; a service held
// only through a value that is not a pointer (a struct service held by
// value) is not seen; and of two services at one address (a struct and its
// first field, both added), only one is matched. It reads only the struct
// the service points to, at offsets computed once per type.

// maxFieldDepth bounds how deep the mesh looks into structs held by value.
const maxFieldDepth = 3

// refOffsetCache maps a struct type to the offsets of its words that can
// hold a service's address.
var refOffsetCache sync.Map // reflect.Type -> []uintptr

// refOffsets returns the offsets, from the start of a struct of type t, of
// its pointer fields and of the data words of its interface fields,
// including those of structs it holds by value.
func refOffsets(t reflect.Type) []uintptr {
	if c, ok := refOffsetCache.Load(t); ok {
		return c.([]uintptr)
	}
	var offs []uintptr
	var walk func(t reflect.Type, base uintptr, depth int)
	walk = func(t reflect.Type, base uintptr, depth int) {
		for i := range t.NumField() {
			f := t.Field(i)
			switch f.Type.Kind() {
			case reflect.Pointer:
				offs = append(offs, base+f.Offset)
			case reflect.Interface: // (type, data): the data word is the pointer
				offs = append(offs, base+f.Offset+unsafe.Sizeof(uintptr(0)))
			case reflect.Struct:
				if depth < maxFieldDepth {
					walk(f.Type, base+f.Offset, depth+1)
				}
			}
		}
	}
	walk(t, 0, 1)
	refOffsetCache.Store(t, offs)
	return offs
}

// heldAddresses returns the non-zero addresses in the words refOffsets finds
// in the struct svc points to, or nil if svc is not a pointer to a struct.
func heldAddresses(svc Service) []uintptr {
	v := reflect.ValueOf(svc)
	if v.Kind() != reflect.Pointer || v.IsNil() || v.Elem().Kind() != reflect.Struct {
		return nil
	}
	offs := refOffsets(v.Type().Elem())
	if len(offs) == 0 {
		return nil
	}
	return readWords(v.UnsafePointer(), offs)
}

// readWords reads the words at offs from base. The service's own goroutines
// may write them meanwhile, under locks of its own that the mesh cannot
// take, so the read is a data race by design and is hidden from the race
// detector: an aligned word is never torn, and its value is only compared
// with the addresses of services, never dereferenced or kept.
//
//go:norace
func readWords(base unsafe.Pointer, offs []uintptr) []uintptr {
	out := make([]uintptr, 0, len(offs))
	for _, off := range offs {
		if w := *(*uintptr)(unsafe.Add(base, off)); w != 0 {
			out = append(out, w)
		}
	}
	return out
}

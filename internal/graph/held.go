package graph

import (
	"reflect"
	"sync"
	"unsafe"
)

// Which services does a service hold? The mesh looks at the words of the
// struct the service points to that can hold a service's address: pointer
// fields, and the data word of interface fields, also inside structs held
// by value, MaxFieldDepth levels deep. It does not look into slices, maps,
// arrays, nor what pointers point to; a service held only through a value
// that is not a pointer (a struct service held by value) is not seen; and
// of two services at one address (a struct and its first field), only one
// can be matched. It reads only the struct the service points to, at
// offsets computed once per type.
//
// The root uses the answer twice: as a hint for whom to wake when a
// service is initialized or removed (a resolver holding it is re-run at
// once), and as the edges of the dependency graph (who stops before whom).

// MaxFieldDepth bounds how deep HeldAddresses looks into structs held by
// value: the struct itself is level 1.
const MaxFieldDepth = 3

// refOffsetCache maps a struct type to the offsets of its words that can
// hold a service's address. Safe for concurrent use; entries are never
// removed (one per struct type of a service).
var refOffsetCache sync.Map // reflect.Type -> []uintptr

// refOffsets returns the offsets, from the start of a struct of type t, of
// its pointer fields and of the data words of its interface fields,
// including those of structs it holds by value, MaxFieldDepth levels deep.
// t must be a struct type. The result is computed once per type and shared:
// callers must not modify it.
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
				if depth < MaxFieldDepth {
					walk(f.Type, base+f.Offset, depth+1)
				}
			}
		}
	}
	walk(t, 0, 1)
	refOffsetCache.Store(t, offs)
	return offs
}

// HeldAddresses returns the non-zero addresses in the words of the struct
// svc points to that can hold a service's address (see the top of
// held.go), or nil if svc is not a non-nil pointer to a struct. A word that
// appears twice is returned twice. It is safe for concurrent use, also
// while svc's own goroutines write those words (see readWords).
func HeldAddresses(svc any) []uintptr { return AppendHeldAddresses(nil, svc) }

// AppendHeldAddresses is HeldAddresses appending to dst, so that a caller
// that looks at many services in turn reuses one buffer.
func AppendHeldAddresses(dst []uintptr, svc any) []uintptr {
	v := reflect.ValueOf(svc)
	if v.Kind() != reflect.Pointer || v.IsNil() || v.Elem().Kind() != reflect.Struct {
		return dst
	}
	offs := refOffsets(v.Type().Elem())
	if len(offs) == 0 {
		return dst
	}
	return readWords(dst, v.UnsafePointer(), offs)
}

// readWords appends to dst the non-zero words at offs from base. The service's own goroutines
// may write them meanwhile, under locks of its own that the mesh cannot
// take, so the read is a data race by design and is hidden from the race
// detector: an aligned word is never torn, and its value is only compared
// with the addresses of services, never dereferenced or kept.
//
//go:norace
func readWords(dst []uintptr, base unsafe.Pointer, offs []uintptr) []uintptr {
	for _, off := range offs {
		if w := *(*uintptr)(unsafe.Add(base, off)); w != 0 {
			dst = append(dst, w)
		}
	}
	return dst
}

// AddressOf returns the address a pointer-shaped svc points to, or 0 for
// any other value (nil included).
func AddressOf(svc any) uintptr {
	if v := reflect.ValueOf(svc); v.Kind() == reflect.Pointer {
		return v.Pointer()
	}
	return 0
}

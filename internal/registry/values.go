package registry

import (
	"math"
	"reflect"
)

// How services are told apart: by value where Go can compare them, by
// identity where it cannot (sameService), by address for what resolvers
// hold (AddressOf); services of zero size never, since Go may give all of
// them one address.

// IsNil reports whether svc is nil or a nil pointer, map, slice, func or
// channel, on which calling a method would likely panic.
func IsNil(svc any) bool {
	if svc == nil {
		return true
	}
	v := reflect.ValueOf(svc)
	switch v.Kind() {
	case reflect.Pointer, reflect.Map, reflect.Slice, reflect.Func, reflect.Chan, reflect.Interface:
		return v.IsNil()
	}
	return false
}

// AddressOf returns the address a pointer-shaped service points to, or 0.
func AddressOf(svc any) uintptr {
	if v := reflect.ValueOf(svc); v.Kind() == reflect.Pointer {
		return v.Pointer()
	}
	return 0
}

// AppendDoubling appends v to s, doubling the capacity when s is full. The
// registry's slices, and the mesh's lists of handlers, only grow, one
// element at a time, to sizes in the hundreds of thousands; append's growth
// of about 1.25x for large slices would allocate and copy five times their
// final size along the way.
func AppendDoubling[T any](s []T, v T) []T {
	if len(s) == cap(s) {
		grown := make([]T, len(s), max(2*cap(s), 8))
		copy(grown, s)
		s = grown
	}
	return append(s, v)
}

// zeroSized reports whether svc is a value of zero size or a pointer to one.
// Go may give every such pointer the same address, so two of them cannot be
// told apart; the mesh never treats them as duplicates. svc must not be nil.
func zeroSized(svc any) bool {
	t := reflect.TypeOf(svc)
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	return t.Size() == 0
}

// isComparable reports whether svc may be compared with == or used as a map
// key without panicking. svc must not be nil.
func isComparable(svc any) bool {
	t := reflect.TypeOf(svc)
	if t.Kind() == reflect.Pointer {
		return true
	}
	// A value holding a NaN is comparable but unequal to itself, so a map
	// would never find it again: such values are compared by sameService.
	return reflect.ValueOf(svc).Comparable() && svc == svc
}

// sameService reports whether a and b, whose values are not comparable, are
// the same service: values of one type whose maps, slices, funcs, channels
// and pointers are the very same ones and whose other fields are equal.
func sameService(a, b any) bool {
	va, vb := reflect.ValueOf(a), reflect.ValueOf(b)
	return va.Type() == vb.Type() && sameValue(va, vb)
}

// sameValue compares two values of one type by identity where Go cannot
// compare them, field by field. It reads unexported fields without copying
// them out, so it never panics.
func sameValue(a, b reflect.Value) bool {
	switch a.Kind() {
	case reflect.Map, reflect.Func, reflect.Chan, reflect.Pointer, reflect.UnsafePointer:
		return a.Pointer() == b.Pointer()
	case reflect.Slice:
		return a.Pointer() == b.Pointer() && a.Len() == b.Len()
	case reflect.Interface:
		if a.IsNil() || b.IsNil() {
			return a.IsNil() == b.IsNil()
		}
		return a.Elem().Type() == b.Elem().Type() && sameValue(a.Elem(), b.Elem())
	case reflect.Struct:
		for i := range a.NumField() {
			if !sameValue(a.Field(i), b.Field(i)) {
				return false
			}
		}
		return true
	case reflect.Array:
		for i := range a.Len() {
			if !sameValue(a.Index(i), b.Index(i)) {
				return false
			}
		}
		return true
	case reflect.Bool:
		return a.Bool() == b.Bool()
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return a.Int() == b.Int()
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return a.Uint() == b.Uint()
	case reflect.Float32, reflect.Float64: // by bits: a NaN is the same as itself
		return math.Float64bits(a.Float()) == math.Float64bits(b.Float())
	case reflect.Complex64, reflect.Complex128:
		ca, cb := a.Complex(), b.Complex()
		return math.Float64bits(real(ca)) == math.Float64bits(real(cb)) &&
			math.Float64bits(imag(ca)) == math.Float64bits(imag(cb))
	case reflect.String:
		return a.String() == b.String()
	}
	return false
}
